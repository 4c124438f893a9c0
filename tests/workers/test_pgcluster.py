"""The throwaway cluster works: a fresh database per test, on 127.0.0.1."""

from __future__ import annotations

import psycopg


def test_fresh_database_is_empty_and_local(pg_url: str) -> None:
    assert "@127.0.0.1:" in pg_url
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE x (a int)")


def test_each_test_gets_its_own_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('x')").fetchone() == (None,)
