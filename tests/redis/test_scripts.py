"""The Lua scripts alone, on fakeredis (its Lua runtime): fast, no server."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

fakeredis = pytest.importorskip("fakeredis", reason="fakeredis[lua] is not installed")
pytest.importorskip("lupa", reason="fakeredis[lua] is not installed (lupa missing)")


from yzj_meeting._redis_quota import ACQUIRE_SCRIPT, PAUSE_SCRIPT  # noqa: E402
from yzj_meeting.redis import CAS_SCRIPT, RELEASE_SCRIPT  # noqa: E402

WINDOW = 1_000_000  # µs


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    client = fakeredis.aioredis.FakeRedis()
    try:
        yield client
    finally:
        await client.aclose()


async def _now(client: Any) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


async def test_acquire_never_grants_more_than_calls_in_any_window(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    starts = []
    for n in range(23):
        at, wait = await acquire(keys=["g", "p"], args=[5, WINDOW, f"m{n}", 0])
        starts.append(at)
        assert wait >= 0
    assert starts == sorted(starts)
    assert all(starts[i + 5] - starts[i] >= WINDOW for i in range(len(starts) - 5))
    _, wait = await acquire(keys=["g", "p"], args=[5, WINDOW, "x", 0])
    assert wait > 0
    # The first five start at once; the sixth waits for the first to leave the window.
    assert starts[5] - starts[0] == WINDOW
    assert await fake.zcard("g") == 24


async def test_spread_grants_keep_their_spacing_and_the_window(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    spacing = WINDOW // 5
    starts = [
        (await acquire(keys=["g", "p"], args=[5, WINDOW, f"m{n}", spacing]))[0] for n in range(12)
    ]
    assert all(b - a >= spacing for a, b in itertools.pairwise(starts))
    assert all(starts[i + 5] - starts[i] >= WINDOW for i in range(len(starts) - 5))


async def test_acquire_waits_out_a_pause(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    until = await _now(fake) + 400_000
    await fake.set("p", until)
    at, wait = await acquire(keys=["g", "p"], args=[5, WINDOW, "m", 0])
    assert at == until
    assert wait > 0


async def test_a_start_beyond_the_horizon_is_not_reserved(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    starts = [
        (await acquire(keys=["g", "p"], args=[2, WINDOW, f"m{n}", 0, WINDOW, 0]))[0]
        for n in range(4)
    ]
    assert starts[2] - starts[0] == WINDOW  # one window ahead: still reserved
    start, wait = await acquire(keys=["g", "p"], args=[2, WINDOW, "far", 0, WINDOW, 0])
    assert start == -1  # two windows ahead: not reserved, ask again in about a window
    assert 0 < wait <= WINDOW
    assert await fake.zcard("g") == 4
    assert await fake.zscore("g", "far") is None


async def test_a_hold_pauses_the_key_for_every_later_grant(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    before = await _now(fake)
    held, wait = await acquire(keys=["g", "p"], args=[5, WINDOW, "a", 0, WINDOW, 300_000])
    assert held >= before + 300_000
    assert wait > 0
    assert int(await fake.get("p")) == held
    assert 0 < await fake.pttl("p") <= 1300
    later, _ = await acquire(keys=["g", "p"], args=[5, WINDOW, "b", 0, WINDOW, 0])
    assert later >= held
    await acquire(keys=["g", "p"], args=[5, WINDOW, "c", 0, WINDOW, 1])  # never shortens it
    assert int(await fake.get("p")) == held


async def test_a_removed_grant_frees_its_place(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    await acquire(keys=["g", "p"], args=[2, WINDOW, "a", 0])
    await acquire(keys=["g", "p"], args=[2, WINDOW, "b", 0])
    _, wait = await acquire(keys=["g", "p"], args=[2, WINDOW, "c", 0])
    assert wait > 0
    await fake.zrem("g", "b", "c")
    _, wait = await acquire(keys=["g", "p"], args=[2, WINDOW, "d", 0])
    assert wait == 0


async def test_grants_expire_and_old_ones_are_trimmed(fake: Any) -> None:
    acquire = fake.register_script(ACQUIRE_SCRIPT)
    await fake.zadd("g", {"old": await _now(fake) - 2 * WINDOW})
    await acquire(keys=["g", "p"], args=[5, WINDOW, "new", 0])
    assert await fake.zrange("g", 0, -1) == [b"new"]
    assert 0 < await fake.pttl("g") <= WINDOW // 1000 + 1000


async def test_pause_is_shared_time_and_never_shortened(fake: Any) -> None:
    pause = fake.register_script(PAUSE_SCRIPT)
    before = await _now(fake)
    long = await pause(keys=["p"], args=[2_000_000])
    assert long >= before + 2_000_000
    assert int(await fake.get("p")) == long
    assert await pause(keys=["p"], args=[100_000]) == long  # a shorter pause keeps the longer
    assert 0 < await fake.pttl("p") <= 3000


async def test_cas_writes_the_next_generation_only_over_the_expected_one(fake: Any) -> None:
    cas = fake.register_script(CAS_SCRIPT)
    assert await cas(keys=["t"], args=[0, "a1", "r1", "100.5", 60_000]) == [
        b"a1",
        b"r1",
        b"100.5",
        b"1",
    ]
    # A writer that saw generation 0 is stale now: it gets the stored token, overwriting nothing.
    assert await cas(keys=["t"], args=[0, "stale", "", "99.0", 60_000]) == [
        b"a1",
        b"r1",
        b"100.5",
        b"1",
    ]
    assert await cas(keys=["t"], args=[1, "a2", "", "200.0", 60_000]) == [
        b"a2",
        b"",
        b"200.0",
        b"2",
    ]
    assert await fake.hget("t", "access") == b"a2"
    assert 0 < await fake.pttl("t") <= 60_000


async def test_cas_over_a_lost_token_continues_the_generation(fake: Any) -> None:
    cas = fake.register_script(CAS_SCRIPT)
    answer = await cas(keys=["t"], args=[7, "a", "", "1.0", 60_000])
    assert answer[3] == b"8"


async def test_release_frees_only_the_owners_lease(fake: Any) -> None:
    release = fake.register_script(RELEASE_SCRIPT)
    await fake.set("lease", "owner-1", px=10_000)
    assert await release(keys=["lease"], args=["owner-2"]) == 0
    assert await fake.get("lease") == b"owner-1"
    assert await release(keys=["lease"], args=["owner-1"]) == 1
    assert await fake.exists("lease") == 0
