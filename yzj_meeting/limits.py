"""Client-side rate limit: at most N calls per interface in any sliding window.

``Limiter`` is the seam (the Redis limiter implements it too); ``RateLimiter`` is the
in-process one. Each call reserves the earliest moment it may start, so waiters are served in
arrival order without a lock or a task, and the grants of one interface never number more than
``limit`` in any ``window`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol, cast, runtime_checkable

from .errors import ValidationError

__all__ = ["Limiter", "RateLimiter"]


@runtime_checkable
class Limiter(Protocol):
    """What ``MeetingClient`` asks of a quota: the seam for a limiter shared across processes.

    The quota is counted per ``(tenant, interface)``: ``tenant`` names the credentials (the eid,
    or the app id), ``interface`` the endpoint (token endpoints included).
    """

    async def acquire(self, tenant: str, interface: str) -> object:
        """Wait until one call may start; answer its slot (opaque)."""
        ...

    def give_back(self, slot: object) -> None:
        """The call holding ``slot`` never left (cancelled before sending): free the slot."""
        ...

    def pause(self, tenant: str, interface: str, seconds: float) -> None:
        """The server throttled: grant nothing for ``(tenant, interface)`` for ``seconds``."""
        ...

    async def aclose(self) -> None:
        """Release connections and background work."""
        ...


class RateLimiter:
    """In-process sliding-window ``Limiter``: per ``(tenant, interface)``, shared by every call.

    ``window`` is the server's counting window; ``margin`` is added to it so that a call granted
    exactly one window after another cannot reach the server inside the same window because of
    unequal network delays. A call cancelled (or failing) before its request leaves gives its
    slot back, so a burst of abandoned calls does not hold the quota.
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        margin: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_wait: Callable[[str, str, float], None] | None = None,
    ) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", "must be an int >= 1")
        self.limit = limit
        self.window = window + margin
        self.on_wait = on_wait
        """Called as ``on_wait(tenant, interface, seconds)`` when a call must wait for its slot,
        before it waits (a progress display shows it); must return quickly and never raise."""
        self._clock = clock
        self._sleep = sleep
        # Reserved start times per key, in order; entries a window old are dropped lazily.
        self._grants: dict[Hashable, deque[float]] = {}
        self._paused: dict[Hashable, float] = {}

    def reserve(self, key: Hashable) -> float:
        """Reserve the next slot of ``key``; returns how long to wait before using it."""
        return self._reserve(key)[1]

    def take(self, key: Hashable) -> float:
        """Take a slot of ``key`` if one is free now (answers 0.0); else reserve nothing and
        answer how long until one is."""
        delay = self._reserve(key)[1]
        if delay > 0:
            self._grants[key].pop()
        return max(delay, 0.0)

    def _reserve(self, key: Hashable) -> tuple[float, float]:
        now = self._clock()
        grants = self._grants.get(key)
        if grants is None:
            grants = self._grants[key] = deque()
        while grants and grants[0] + self.window <= now:
            grants.popleft()
        at = max(now, grants[-1]) if grants else now
        if len(grants) >= self.limit:
            at = max(at, grants[-self.limit] + self.window)
        paused = self._paused.get(key)
        if paused is not None:
            at = max(at, paused)
        grants.append(at)
        return at, at - now

    async def acquire(self, tenant: str, interface: str) -> object:
        """Wait until a call of ``interface`` may start; answers its slot."""
        key = (tenant, interface)
        at, delay = self._reserve(key)
        slot = (key, at)
        if delay > 0:
            if self.on_wait is not None:
                self.on_wait(tenant, interface, delay)
            try:
                await self._sleep(delay)
            except BaseException:
                self.give_back(slot)
                raise
        return slot

    def give_back(self, slot: object) -> None:
        """Free a slot whose call never left."""
        key, at = cast("tuple[Hashable, float]", slot)
        grants = self._grants.get(key)
        if grants is not None:
            with contextlib.suppress(ValueError):
                grants.remove(at)

    def pause(self, tenant: str, interface: str, seconds: float) -> None:
        """Grant nothing for ``(tenant, interface)`` for ``seconds`` (the server throttled)."""
        key = (tenant, interface)
        until = self._clock() + seconds
        self._paused[key] = max(until, self._paused.get(key, until))

    async def aclose(self) -> None:
        """Nothing to release."""
        return None
