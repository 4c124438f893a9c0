"""Redis killed mid-test and restarted: no call fails, one WARNING, sharing resumes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from yzj_meeting.redis import RedisRateLimiter, RedisTokenStore
from yzj_meeting.tokens.store import StoredToken

from .conftest import SERVER, RedisServer

IDENTITY = "http://127.0.0.1:1|resGroupSecret|17717|"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of this test alone (it gets killed)."""
    if SERVER is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server; .ci/run does)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def client(own_server: RedisServer) -> AsyncIterator[Redis]:
    redis = Redis.from_url(own_server.url, socket_timeout=1, socket_connect_timeout=1)
    try:
        yield redis
    finally:
        await redis.aclose()


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


async def _until_shared(check: object, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("sharing did not resume")


async def test_limiter_falls_back_then_shares_again(
    own_server: RedisServer, client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "yzj_meeting.redis")
    limiter = RedisRateLimiter(client, calls=40, window=1.0, retry=0.05, margin=0)
    shared = await limiter.acquire("17717", "meeting/create")
    assert shared.starts_at is not None
    own_server.kill()
    lost = time.monotonic()
    local = []
    for _ in range(12):
        local.append((await limiter.acquire("17717", "meeting/create"), time.monotonic()))
    assert all(slot.starts_at is None for slot, _ in local)  # granted in process, none failed
    assert limiter.fallback_calls == 10
    # Nothing in process until 1.25 windows after Redis went (what Redis had reserved before
    # is then out of every window); then a quarter of the quota per window.
    granted = [at for _, at in local]
    assert granted[0] - lost >= 1.25
    assert granted[10] - granted[0] >= 1.0
    unreachable = _warnings(caplog, "Redis unreachable")
    assert len(unreachable) == 1  # rate-limited: once, not once per call
    assert "10 calls per 1 s (after 1.25 s)" in unreachable[0]
    own_server.start()  # an empty Redis: the restart lost every grant
    restarted = time.time()  # Redis TIME is this host's clock

    async def shared_again() -> bool:
        return (await limiter.acquire("17717", "meeting/create")).starts_at is not None

    await _until_shared(shared_again)
    assert _warnings(caplog, "answers again")
    grants, paused = limiter.keys("17717", "meeting/create")
    assert await client.zcard(grants) >= 1
    # Back on Redis, the first grant held the key for every process for a window and the
    # retry: another process (another client) that never saw the outage waits for it too.
    held_until = int(await client.get(paused))
    other = Redis.from_url(own_server.url)
    try:
        slot = await RedisRateLimiter(other, calls=40, window=1.0, margin=0).acquire(
            "17717", "meeting/create"
        )
    finally:
        await other.aclose()
    assert slot.starts_at is not None
    assert slot.starts_at >= held_until
    assert held_until >= (restarted + 1.0) * 1_000_000  # at least a window after it came back
    await limiter.aclose()


async def test_token_store_fetches_locally_then_shares_again(
    own_server: RedisServer, client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "yzj_meeting.redis")
    store = RedisTokenStore(client, retry=0.05)
    issued: list[str] = []

    async def fetch(current: StoredToken | None) -> StoredToken:
        issued.append(f"tok-{len(issued) + 1}")
        return StoredToken(issued[-1], None, time.time() + 3600)

    first = await store.replace(IDENTITY, None, fetch)
    own_server.kill()
    # No exception; the last token read from Redis serves while it is valid (no request).
    assert await store.load(IDENTITY) == first
    assert issued == ["tok-1"]
    local = await store.replace(IDENTITY, first, fetch)
    assert local.access == "tok-2"
    assert (await store.load(IDENTITY)) == local  # kept in process meanwhile
    again = await asyncio.gather(*(store.replace(IDENTITY, first, fetch) for _ in range(5)))
    assert {t.access for t in again} == {"tok-2"}  # still one renewal, in this process
    assert len(_warnings(caplog, "Redis unreachable")) == 1
    own_server.start()  # an empty Redis: the restart lost the token

    async def shared_again() -> bool:
        await asyncio.sleep(0.06)
        loaded = await store.load(IDENTITY)
        return not store.health.down and loaded is not None

    await _until_shared(shared_again)
    # The token fetched during the outage went to Redis: the fleet uses it, no new request.
    assert await client.hget(store.keys(IDENTITY)[0], "access") == b"tok-2"
    assert issued == ["tok-1", "tok-2"]
    renewed = await store.replace(IDENTITY, await store.load(IDENTITY), fetch)
    assert renewed.access == "tok-3"
    assert await client.hget(store.keys(IDENTITY)[0], "access") == b"tok-3"
    assert _warnings(caplog, "answers again")
