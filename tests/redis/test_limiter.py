"""RedisRateLimiter on a real redis-server: one exact window for every instance sharing it."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from yzj_meeting.limits import Limiter
from yzj_meeting.redis import RedisRateLimiter, RedisSlot

from .conftest import RedisServer


async def _now(client: Redis) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


@pytest.fixture
async def two_clients(redis_client: Redis, redis_server: RedisServer) -> tuple[Redis, Redis]:
    other = Redis.from_url(redis_server.url)
    yield redis_client, other  # type: ignore[misc]
    await other.aclose()


def test_is_a_limiter(redis_client: Redis) -> None:
    assert isinstance(RedisRateLimiter(redis_client), Limiter)


async def test_never_more_than_calls_in_any_window_across_instances(
    two_clients: tuple[Redis, Redis],
) -> None:
    calls, window = 8, 0.3
    limiters = [RedisRateLimiter(c, calls=calls, window=window, margin=0) for c in two_clients]
    ends: list[int] = []

    async def one(n: int) -> RedisSlot:
        slot = await limiters[n % 2].acquire("17717", "meeting/create")
        ends.append(await _now(two_clients[0]))  # the Redis time the grant was used at
        return slot

    filled = [await one(n) for n in range(calls)]
    # Another interface and another tenant have windows of their own: no wait for them.
    width = round(window * 1_000_000)
    for tenant, interface in (("17717", "meeting/cancel"), ("other-eid", "meeting/create")):
        free = await limiters[1].acquire(tenant, interface)
        assert free.starts_at is not None
        assert filled[0].starts_at is not None
        assert free.starts_at - filled[0].starts_at < width
    slots = filled + await asyncio.gather(*(one(n) for n in range(calls, 30)))
    starts = sorted(s.starts_at for s in slots if s.starts_at is not None)
    assert len(starts) == 30
    assert all(starts[i + calls] - starts[i] >= width for i in range(len(starts) - calls))
    # Grants after the first ``calls`` really waited (Redis time), not only were told to.
    assert all(s > starts[0] for s in starts[calls:])
    assert sorted(ends)[-1] >= starts[-1] - 2_000  # asyncio may wake a clock tick early


async def test_pause_in_one_instance_holds_every_instance(
    two_clients: tuple[Redis, Redis],
) -> None:
    pausing, waiting = (RedisRateLimiter(c, calls=100, window=1.0) for c in two_clients)
    pausing.pause("17717", "meeting/create", 0.4)
    await pausing.aclose()  # the pause is written in the background
    until = int(await two_clients[1].get(waiting.keys("17717", "meeting/create")[1]))
    free = await waiting.acquire("17717", "meeting/cancel")
    assert free.starts_at is not None
    assert free.starts_at < until
    slot = await waiting.acquire("17717", "meeting/create")
    assert slot.starts_at is not None
    assert slot.starts_at >= until


async def test_give_back_frees_the_grant_for_others(two_clients: tuple[Redis, Redis]) -> None:
    first, second = (RedisRateLimiter(c, calls=2, window=30.0) for c in two_clients)
    kept = await first.acquire("17717", "meeting/create")
    unused = await first.acquire("17717", "meeting/create")
    first.give_back(unused)
    await first.aclose()
    grants = first.keys("17717", "meeting/create")[0]
    assert await two_clients[0].zcard(grants) == 1
    slot = await second.acquire("17717", "meeting/create")  # would wait 30 s without it
    assert slot.starts_at is not None
    assert kept.starts_at is not None
    assert slot.starts_at - kept.starts_at < 30_000_000


async def test_a_waiter_cancelled_before_its_start_gives_its_grant_back(
    redis_client: Redis,
) -> None:
    # Spread: the second grant is reserved a quarter window ahead (the furthest reserved).
    limiter = RedisRateLimiter(redis_client, calls=4, window=30.0, spread=True)
    await limiter.acquire("17717", "meeting/create")
    waiter = asyncio.ensure_future(limiter.acquire("17717", "meeting/create"))
    grants = limiter.keys("17717", "meeting/create")[0]
    while await redis_client.zcard(grants) < 2:  # noqa: ASYNC110 - the state is in Redis
        await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await limiter.aclose()
    assert await redis_client.zcard(grants) == 1


async def test_a_grant_further_than_a_quarter_window_is_asked_for_again(
    redis_client: Redis,
) -> None:
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.sleep(seconds)

    limiter = RedisRateLimiter(redis_client, calls=1, window=1.0, margin=0, sleep=sleep)
    first = await limiter.acquire("17717", "meeting/create")
    grants = limiter.keys("17717", "meeting/create")[0]
    waiter = asyncio.ensure_future(limiter.acquire("17717", "meeting/create"))
    await asyncio.sleep(0.3)
    assert await redis_client.zcard(grants) == 1  # not reserved a window ahead: asked again
    second = await waiter
    assert first.starts_at is not None
    assert second.starts_at is not None
    assert second.starts_at - first.starts_at >= 1_000_000
    # Waited until the slot was within a quarter window, plus a jitter of up to one spacing.
    assert 0.7 <= asked[0] <= 1.75
    await limiter.aclose()


async def test_keys_share_one_hash_tag_per_tenant_and_expire(redis_client: Redis) -> None:
    limiter = RedisRateLimiter(redis_client, calls=5, window=2.0, prefix="app")
    await limiter.acquire("17717", "meeting/create")
    await limiter.acquire("weird {tenant}", "meeting/create")
    limiter.pause("17717", "meeting/create", 1.0)
    await limiter.aclose()
    keys = sorted([k.decode() async for k in redis_client.scan_iter()])
    assert len(keys) == 3
    assert all(k.startswith("app:{") for k in keys)
    tags = {k[k.index("{") : k.index("}") + 1] for k in keys}
    assert "{17717}" in tags
    assert len(tags) == 2
    assert not any("weird" in k for k in keys)
    for key in keys:
        assert 0 < await redis_client.pttl(key) <= 4_000
