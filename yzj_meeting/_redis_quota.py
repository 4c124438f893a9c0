"""``RedisRateLimiter``: one quota per ``(tenant, interface)`` for every process, on Redis.

One Lua script per grant reads Redis ``TIME`` (one clock for every host), reserves the earliest
slot that keeps at most ``calls`` grants in any window and answers how long to wait. A slot is
reserved at most a quarter of a window ahead; a caller that would wait longer asks again later.

The quota also holds across an outage, for every process that sees it (see ``RedisRateLimiter``):
a process grants in-process only once every grant Redis may have reserved before the outage has
left the window, and a process that finds Redis again holds the keys it touches until every
in-process grant of the fleet has left the window.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from redis.asyncio import Redis

from ._redis_base import DOWN, Health, tag, text
from .limits import RateLimiter

__all__ = ["ACQUIRE_SCRIPT", "PAUSE_SCRIPT", "RedisRateLimiter", "RedisSlot"]

# KEYS[1] the grants (sorted set: member -> start time), KEYS[2] "paused until". ARGV: calls,
# window, member, spacing, horizon, hold. Times are integer µs, written with %d (a Lua number
# given to redis.call is printed with 14 digits, too few for µs since the epoch). A ``hold`` > 0
# first pauses the key for that long (never shortening a pause). Grants are reserved in time
# order, so the new one starts no earlier than the last, nor than one window after the grant
# ``calls`` places back: never more than ``calls`` starts in any window. A start more than
# ``horizon`` ahead (if given) is not reserved: the answer is then {-1, how long until it would
# be}.
# Answers {start, wait}.
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local calls = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hold = tonumber(ARGV[6] or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if hold > 0 and now + hold > paused then
  paused = now + hold
  redis.call('SET', KEYS[2], string.format('%d', paused), 'PX', math.floor(hold / 1000) + 1000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local at = math.max(now, paused)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then at = math.max(at, tonumber(last[2]) + tonumber(ARGV[4])) end
if redis.call('ZCARD', KEYS[1]) >= calls then
  local back = redis.call('ZRANGE', KEYS[1], -calls, -calls, 'WITHSCORES')
  at = math.max(at, tonumber(back[2]) + window)
end
local horizon = tonumber(ARGV[5] or '-1')
if horizon >= 0 and at - now > horizon then return {-1, at - now - horizon} end
redis.call('ZADD', KEYS[1], string.format('%d', at), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.floor((at - now + window) / 1000) + 1000)
return {at, at - now}
"""

# KEYS[1] "paused until". ARGV[1] seconds in µs. Never shortens a pause already set.
PAUSE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untl then return current end
redis.call('SET', KEYS[1], string.format('%d', untl), 'PX',
           math.floor(tonumber(ARGV[1]) / 1000) + 1000)
return untl
"""


@attrs.frozen
class RedisSlot:
    """A grant of ``RedisRateLimiter``: where it is recorded and when it starts (epoch µs by
    Redis ``TIME``; ``None`` when granted by the in-process fallback)."""

    key: str
    member: str
    starts_at: int | None


class RedisRateLimiter:
    """A ``Limiter`` on Redis: at most ``calls`` grants per ``(tenant, interface)`` in any
    ``window`` seconds, counted for every process sharing it.

    ``margin`` is added to the window (as ``RateLimiter`` does) so that unequal delays between a
    grant and the server cannot put two grants one window apart into the same server window.
    ``spread`` also keeps grants ``(window + margin) / calls`` apart: an even flow instead of
    bursts of ``calls`` at once, so that no burst queues at the server and delays stay even (a
    small ``margin`` then suffices).

    While Redis is unreachable each process limits itself to ``fallback_calls`` per window
    (default ``calls // 4``: four processes stay within the quota), logging a WARNING at most
    every ``warn_every`` seconds; Redis is tried again ``retry`` seconds after a failure. No call
    fails because Redis is down, and the quota holds across the outage:

    - grants are reserved at most a quarter window ahead, and a process grants on its own only
      ``1.25 * (window + margin)`` after it lost Redis, when what Redis granted before is out of
      every window;
    - the first grant of each key a process asks for once Redis answers again holds that key,
      for every process, for ``window + margin + retry`` (until what the processes that have not
      yet noticed Redis is back granted on their own is out of the window), and at least until
      that process's own in-process start (a Redis that lost its data forgot what it granted).

    What that costs: calls wait ``1.25 * (window + margin)`` when Redis goes (75 s with the
    default quota), and about a window when it comes back. It assumes every process uses the
    same ``calls``, ``window``, ``margin`` and ``retry``, and that every process calling during
    an outage sees it (Redis down, restarted or stalled; not a network split that cuts some
    processes off a Redis the others still reach). A process that made no call during the
    outage and is the first to ask for a key afterwards does not hold it.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        calls: int = 1500,
        window: float = 60.0,
        prefix: str = "yzj",
        margin: float = 0.5,
        spread: bool = False,
        fallback_calls: int | None = None,
        retry: float = 1.0,
        warn_every: float = 60.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not isinstance(calls, int) or calls < 1:
            raise ValueError("calls must be an int >= 1")
        if window <= 0 or margin < 0:
            raise ValueError("window must be > 0 and margin >= 0")
        self._redis = redis
        self.calls = calls
        self.window = window
        self._window_us = round((window + margin) * 1_000_000)
        self._spacing_us = self._window_us // calls if spread else 0
        # Reserved no further ahead than this, so what Redis granted before an outage has left
        # every window by ``window + margin + horizon`` after it.
        self._horizon_us = self._window_us // 4
        self._prefix = prefix
        self._sleep = sleep
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._pause = redis.register_script(PAUSE_SCRIPT)
        self.fallback_calls = fallback_calls or max(1, calls // 4)
        self._local = RateLimiter(self.fallback_calls, window, margin=margin)
        self._paused: dict[str, float] = {}  # key -> monotonic end of a pause seen here
        self._tasks: set[asyncio.Task[None]] = set()
        self._lost_at = float("-inf")  # monotonic: when this process last lost Redis
        self._local_from = float("-inf")  # no in-process grant before (monotonic)
        self._hold_until = float("-inf")  # after Redis returned, hold keys until (monotonic)
        self._held: set[str] = set()  # keys already held since Redis returned
        self.health = Health(
            "RedisRateLimiter",
            f"each process allows {self.fallback_calls} calls per {window:g} s"
            f" (after {1.25 * (window + margin):g} s)",
            retry=retry,
            warn_every=warn_every,
            on_down=self._lost,
            on_up=self._found,
        )

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(calls={self.calls}, window={self.window}, prefix={self._prefix!r})"
        )

    def keys(self, tenant: str, interface: str) -> tuple[str, str]:
        """The grants and "paused until" keys of ``(tenant, interface)``."""
        base = f"{self._prefix}:{{{tag(tenant)}}}:rate:{tag(interface)}"
        return base, base + ":paused"

    async def acquire(self, tenant: str, interface: str) -> RedisSlot:
        """Wait until one call may start; answer its slot."""
        grants, paused = self.keys(tenant, interface)
        until = self._paused.get(grants)
        if until is not None:
            if until > time.monotonic():
                await self._sleep(until - time.monotonic())
            self._paused.pop(grants, None)
        while True:
            if self.health.usable():
                answer = await self._ask(grants, paused)
                if isinstance(answer, RedisSlot):
                    return answer
                if answer is not None:  # too far ahead to reserve: ask again later
                    await self._sleep(answer + random.uniform(0, self._jitter()))
                    continue
            wait = self._local_wait(grants)
            if wait <= 0:
                return RedisSlot(grants, "", None)
            # Grant in process only just after Redis failed to answer: never after it is back.
            await self._sleep(min(wait, max(self.health.retry_in(), 0.001)))

    def give_back(self, slot: object) -> None:
        """Remove the unused grant ``slot`` (in the background; ``aclose`` awaits it)."""
        if isinstance(slot, RedisSlot) and slot.starts_at is not None:
            self._spawn(self._redis.zrem(slot.key, slot.member))

    def pause(self, tenant: str, interface: str, seconds: float) -> None:
        """Grant nothing for ``(tenant, interface)`` for ``seconds``, in every process."""
        if seconds <= 0:
            return
        grants, paused = self.keys(tenant, interface)
        end = time.monotonic() + seconds
        self._paused[grants] = max(end, self._paused.get(grants, end))
        self._spawn(self._pause(keys=[paused], args=[round(seconds * 1_000_000)]))

    async def aclose(self) -> None:
        """Wait for the background give-backs and pauses (the Redis client is the caller's)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _ask(self, grants: str, paused: str) -> RedisSlot | float | None:
        """A slot from Redis, or how long until one may be reserved, or ``None`` (Redis down)."""
        member = uuid.uuid4().hex
        hold = self._hold_for(grants)
        args: list[int | str] = [self.calls, self._window_us, member]
        args += [self._spacing_us, self._horizon_us, hold]
        try:
            answer = await self._acquire(keys=[grants, paused], args=args)
        except DOWN as exc:
            self.health.failed(exc)
            return None
        self.health.ok()
        if hold:
            self._held.add(grants)
        start, wait = int(text(answer[0])), int(text(answer[1])) / 1_000_000
        if start < 0:
            return wait
        slot = RedisSlot(grants, member, start)
        if wait > 0:
            try:
                await self._sleep(wait)
            except asyncio.CancelledError:
                self.give_back(slot)  # never sent: free it for others
                raise
        return slot

    def _local_wait(self, grants: str) -> float:
        """0 after taking an in-process slot of ``grants``, else how long until one is free."""
        early = self._local_from - time.monotonic()
        return early if early > 0 else self._local.take(grants)

    def _hold_for(self, grants: str) -> int:
        """µs to hold ``grants`` for every process: on its first grant since Redis returned
        (the probe that finds Redis again holds too)."""
        now = time.monotonic()
        until = self._back_until(now) if self.health.down else self._hold_until
        held = grants in self._held and not self.health.down
        return round((until - now) * 1_000_000) if until > now and not held else 0

    def _back_until(self, now: float) -> float:
        window = self._window_us / 1_000_000
        return max(now + window + self.health.retry, self._local_start(self._lost_at))

    def _local_start(self, lost_at: float) -> float:
        return lost_at + (self._window_us + self._horizon_us) / 1_000_000

    def _lost(self) -> None:
        self._lost_at = time.monotonic()
        self._local_from = self._local_start(self._lost_at)

    def _found(self) -> None:
        self._hold_until = self._back_until(time.monotonic())
        self._held.clear()

    def _jitter(self) -> float:
        return (self._spacing_us or self._window_us // self.calls) / 1_000_000

    def _spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except DOWN as exc:
                self.health.failed(exc)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
