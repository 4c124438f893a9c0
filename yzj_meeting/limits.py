"""Client-side rate limit: at most N calls per interface in any sliding window.

Each call reserves the earliest moment it may start, so waiters are served in arrival order
without a lock or a task, and the grants of one interface never number more than ``limit`` in
any ``window`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

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
    """Sliding-window limiter per key (the interface), shared by every concurrent call.

    ``window`` is the server's counting window; ``margin`` is added to it so that a call granted
    exactly one window after another cannot reach the server inside the same window because of
    unequal network delays. A cancelled waiter keeps its slot: the limit errs on the safe side.
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        margin: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._grants: dict[str, deque[float]] = {}

    def reserve(self, key: str) -> float:
        """Reserve the next slot of ``key``; returns how long to wait before using it."""
        now = self._clock()
        grants = self._grants.get(key)
        if grants is None:
            grants = self._grants[key] = deque(maxlen=self.limit)
        if len(grants) < self.limit:
            grants.append(now)
            return 0.0
        at = max(now, grants[0] + self.window, grants[-1])
        grants.append(at)
        return at - now

    async def acquire(self, key: str) -> None:
        """Wait until a call of ``key`` may start."""
        delay = self.reserve(key)
        if delay > 0:
            await self._sleep(delay)
