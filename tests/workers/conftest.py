"""Fixtures of the worker tests: a throwaway PostgreSQL cluster, a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .pgcluster import PgCluster, find_bindir

psycopg = pytest.importorskip("psycopg")

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (initdb not found)")
    cluster = PgCluster(bindir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """The URL of a new, empty database on the session's cluster."""
    name = f"t{next(_numbers)}"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_cluster.url_for(name)
