"""``migrate``: creates the schema once, is idempotent and concurrent-safe, refuses a newer one."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from yzj_meeting.sync.journal import JournalError
from yzj_meeting.sync.pg_journal import SCHEMA_VERSION, make_pool, migrate


async def test_migrate_is_idempotent_and_safe_to_run_together(pg_url: str) -> None:
    versions = await asyncio.gather(*(migrate(pg_url) for _ in range(4)))
    assert versions == [SCHEMA_VERSION] * 4
    assert await migrate(pg_url) == SCHEMA_VERSION
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM yzj_schema").fetchall() == [(SCHEMA_VERSION,)]
        for table in ("yzj_journal", "yzj_leases", "yzj_lease_log", "yzj_runs", "yzj_tenants"):
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (table,)


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    await migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE yzj_schema SET version = 99")
    with pytest.raises(JournalError, match="schema 99"):
        await migrate(pg_url)


async def test_journal_commits_are_durable_whatever_the_server_default(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f"ALTER DATABASE {dbname} SET synchronous_commit = off")
    pool = await make_pool(pg_url)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SHOW synchronous_commit")
            assert await cur.fetchone() == ("on",)
    finally:
        await pool.close()
