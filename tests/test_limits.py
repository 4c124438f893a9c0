"""RateLimiter: at most ``limit`` grants per interface in any window, in arrival order."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting.limits import RateLimiter

from .support import VirtualTime


async def simulate(
    arrivals: list[float], limit: int, window: float, margin: float
) -> tuple[RateLimiter, list[float]]:
    """Each call arrives at its time and asks the limiter; returns the grant time of each."""
    vt = VirtualTime()
    limiter = RateLimiter(limit, window, margin=margin, clock=vt.clock, sleep=vt.sleep)
    granted = [0.0] * len(arrivals)

    async def call(i: int) -> None:
        await vt.sleep(arrivals[i])
        await limiter.acquire("t", "create")
        granted[i] = vt.now

    tasks = [asyncio.create_task(call(i)) for i in range(len(arrivals))]
    await vt.run(tasks)
    for task in tasks:
        task.result()
    return limiter, granted


# Quarter seconds: exact in binary floating point, so the window arithmetic is exact too.
arrival_times = st.lists(st.integers(0, 4 * 300).map(lambda q: q / 4), min_size=1, max_size=60)


@given(
    arrivals=arrival_times,
    limit=st.integers(1, 6),
    window=st.sampled_from([1.0, 10.0, 60.0]),
    margin=st.sampled_from([0.0, 0.5]),
)
async def test_at_most_limit_grants_in_any_window_and_fifo(
    arrivals: list[float], limit: int, window: float, margin: float
) -> None:
    _, granted = await simulate(arrivals, limit, window, margin)
    order = sorted(range(len(arrivals)), key=lambda i: (arrivals[i], i))
    in_order = [granted[i] for i in order]
    # nobody is granted before arriving
    assert all(granted[i] >= arrivals[i] for i in range(len(arrivals)))
    # FIFO: grants follow arrival order
    assert in_order == sorted(in_order)
    # at most `limit` grants in any window (+ margin) of time
    for j in range(len(in_order) - limit):
        assert in_order[j + limit] - in_order[j] >= window + margin
    # and nobody waits longer than that rule requires
    for k, i in enumerate(order):
        earliest = arrivals[i]
        if k:
            earliest = max(earliest, in_order[k - 1])
        if k >= limit:
            earliest = max(earliest, in_order[k - limit] + window + margin)
        assert granted[i] == earliest


async def test_first_limit_calls_go_at_once_then_wait_a_window() -> None:
    _, granted = await simulate([0.0] * 7, limit=3, window=60.0, margin=0.5)
    assert granted == [0.0, 0.0, 0.0, 60.5, 60.5, 60.5, 121.0]


def test_reserve_returns_the_wait() -> None:
    now = [100.0]
    limiter = RateLimiter(2, 60.0, margin=0.0, clock=lambda: now[0])
    assert limiter.reserve("a") == 0.0
    assert limiter.reserve("a") == 0.0
    assert limiter.reserve("a") == 60.0
    now[0] = 130.0
    assert limiter.reserve("a") == 30.0  # queued behind the grant reserved for 160 s
    assert limiter.reserve("b") == 0.0  # another interface has its own window


def test_take_grants_only_a_free_slot_and_reserves_nothing_otherwise() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, margin=0.0, clock=lambda: now[0])
    assert limiter.take("a") == 0.0
    now[0] = 4.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 6.0  # full until the first grant leaves the window
    assert limiter.take("a") == 6.0  # the refusal reserved nothing
    now[0] = 10.0
    assert limiter.take("a") == 0.0
    assert limiter.reserve("a") == 4.0  # the taken slot counts: behind the one at 4 s


def test_the_margin_holds_back_a_call_exactly_one_window_later() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 60.0, clock=lambda: now[0])
    assert limiter.reserve("a") == 0.0
    now[0] = 60.0
    assert limiter.reserve("a") == pytest.approx(0.5)


async def test_interfaces_are_limited_separately() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(1, 60.0, margin=0.0, clock=vt.clock, sleep=vt.sleep)
    granted: dict[str, float] = {}

    async def call(key: str) -> None:
        await limiter.acquire("t", key)
        granted[key] = vt.now

    tasks = [asyncio.create_task(call(k)) for k in ("create", "modify", "cancel")]
    await vt.run(tasks)
    assert granted == {"create": 0.0, "modify": 0.0, "cancel": 0.0}


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0)
