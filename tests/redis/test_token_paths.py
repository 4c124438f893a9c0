"""Every way two token requests for one identity could happen within one token lifetime with
``RedisTokenStore``, one test each, on fakeredis (``server.connected = False`` is "Redis is
unreachable"): the fixable ones fetch once; see ``test_processes`` for the holder paused after
its request left, which is inherent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

fakeredis = pytest.importorskip("fakeredis", reason="fakeredis[lua] is not installed")
pytest.importorskip("lupa", reason="fakeredis[lua] is not installed (lupa missing)")

from yzj_meeting.redis import RedisTokenStore  # noqa: E402
from yzj_meeting.tokens.store import StoredToken  # noqa: E402

IDENTITY = "http://127.0.0.1:1|resGroupSecret|17717|"


class Fetcher:
    """A ``fetch`` that counts its calls and issues ``tok-1``, ``tok-2``, ...; ``then`` runs
    after each fetch (e.g. Redis goes away before the token is written)."""

    def __init__(self, delay: float = 0.0, then: Any = None) -> None:
        self.delay = delay
        self.then = then
        self.calls = 0

    async def __call__(self, current: StoredToken | None) -> StoredToken:
        self.calls += 1
        n = self.calls
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.then is not None:
            self.then()
        return StoredToken(f"tok-{n}", f"ref-{n}", time.time() + 3600)


@pytest.fixture
def server() -> Any:
    return fakeredis.FakeServer()


@pytest.fixture
async def clients(server: Any) -> AsyncIterator[list[Any]]:
    """Two clients of one fake server: two processes of a fleet."""
    made = [fakeredis.aioredis.FakeRedis(server=server) for _ in range(2)]
    try:
        yield made
    finally:
        for client in made:
            await client.aclose()


def stores(clients: list[Any], **options: Any) -> list[RedisTokenStore]:
    return [RedisTokenStore(c, retry=0.05, **options) for c in clients]


async def back_after(server: Any, seconds: float) -> None:
    await asyncio.sleep(seconds)
    server.connected = True


async def test_a_process_that_never_read_the_token_waits_for_a_restarting_redis(
    server: Any, clients: list[Any]
) -> None:
    # Before: a tenant taken over by a process whose Redis was unreachable (its in-process
    # cache empty) fetched a token of its own while the fleet's was valid.
    a, b = stores(clients)
    fetch = Fetcher()
    shared = await a.replace(IDENTITY, None, fetch)
    server.connected = False
    assert await b.load(IDENTITY) is None  # unreachable, and nothing read here yet
    restart = asyncio.ensure_future(back_after(server, 0.3))
    got = await b.replace(IDENTITY, None, fetch)
    await restart
    assert fetch.calls == 1
    assert got == shared
    assert b.health.failures >= 1


async def test_a_process_whose_redis_failed_a_moment_ago_asks_it_again_first(
    server: Any, clients: list[Any]
) -> None:
    # Before: for ``retry`` seconds after one failed command the store fetched in process
    # without asking Redis, even when it answered again meanwhile.
    a, b = stores(clients, outage_wait=1.0)
    b.health = type(b.health)("t", "t", retry=60.0, warn_every=60.0)
    fetch = Fetcher()
    shared = await a.replace(IDENTITY, None, fetch)
    server.connected = False
    assert await b.load(IDENTITY) is None
    server.connected = True  # back long before b's ``retry`` is over
    assert await b.replace(IDENTITY, None, fetch) == shared
    assert fetch.calls == 1


async def test_a_waiter_whose_redis_fails_mid_renewal_reads_the_holders_token(
    server: Any, clients: list[Any]
) -> None:
    # Before: a waiter polling for another process's renewal took a Redis hiccup for an outage
    # and fetched beside the holder.
    a, b = stores(clients)
    fetch = Fetcher(delay=0.4)
    holder = asyncio.ensure_future(a.replace(IDENTITY, None, fetch))
    await asyncio.sleep(0.05)
    assert fetch.calls == 1

    async def hiccup() -> None:
        await asyncio.sleep(0.1)
        server.connected = False
        await back_after(server, 0.2)

    blip = asyncio.ensure_future(hiccup())
    got = await b.replace(IDENTITY, None, fetch)
    await blip
    assert fetch.calls == 1
    assert got == await holder
    assert b.health.failures >= 1


async def test_a_token_fetched_as_redis_goes_away_is_written_once_it_is_back(
    server: Any, clients: list[Any]
) -> None:
    # Before: the holder kept it in process only; the others, finding no new token, fetched.
    a, b = stores(clients)
    restart: list[asyncio.Future[None]] = []

    def redis_goes_away() -> None:
        server.connected = False
        restart.append(asyncio.ensure_future(back_after(server, 0.3)))

    first = await a.replace(IDENTITY, None, Fetcher(then=redis_goes_away))
    await restart[0]
    fetch = Fetcher()
    assert await b.replace(IDENTITY, None, fetch) == first
    assert fetch.calls == 0
    assert (first.access, first.generation) == ("tok-1", 1)


async def test_a_token_lost_by_a_redis_restart_is_stored_again_by_a_process_that_read_it(
    clients: list[Any],
) -> None:
    # Before: Redis restarted without its data answered "no token", and the next process
    # fetched one while every process had just read a valid one.
    a, b = stores(clients)
    fetch = Fetcher()
    shared = await a.replace(IDENTITY, None, fetch)
    assert await b.load(IDENTITY) == shared
    await clients[0].flushall()  # a restart without persistence
    again = await b.load(IDENTITY)
    assert again is not None
    assert again.access == shared.access
    assert (await a.load(IDENTITY)) == again  # in Redis for everyone
    assert await a.replace(IDENTITY, None, fetch) == again
    assert fetch.calls == 1


async def test_an_older_token_restored_by_redis_gives_way_to_a_newer_one_read_before(
    clients: list[Any],
) -> None:
    # Redis restored from an older snapshot: the newer token a process read is stored again
    # (generation compare-and-set), the older is not served.
    a, b = stores(clients)
    fetch = Fetcher()
    old = await a.replace(IDENTITY, None, fetch)
    new = await a.replace(IDENTITY, old, fetch)
    assert await b.load(IDENTITY) == new
    key = a.keys(IDENTITY)[0]
    await clients[0].hset(
        key,
        mapping={"access": old.access, "refresh": "ref-1", "expires_at": repr(old.expires_at)},
    )
    loaded = await b.load(IDENTITY)
    assert loaded is not None
    assert loaded.access == new.access
    assert fetch.calls == 2


async def test_redis_that_stays_away_costs_one_bounded_wait_then_one_fetch_per_process(
    server: Any, clients: list[Any]
) -> None:
    # The wait is bounded (``outage_wait``): no call fails because Redis is down; the token
    # fetched then serves this process without waiting again.
    a, _ = stores(clients, outage_wait=0.2)
    server.connected = False
    fetch = Fetcher()
    first = await a.replace(IDENTITY, None, fetch)
    assert (first.access, fetch.calls) == ("tok-1", 1)
    same = await asyncio.gather(*(a.replace(IDENTITY, None, fetch) for _ in range(5)))
    assert {t.access for t in same} == {"tok-1"}
    assert fetch.calls == 1
