"""What ``yzj-meeting sync`` shows while it works: counts, rate, an ETA that knows the quota,
the calls waiting for the quota, the failures so far.

``SyncMonitor`` is fed by the sync (``progress``: keys done, failed, total) and by the client's
rate limiter (``quota_wait``: a call waits that many seconds for its slot, before it waits);
``snapshot()`` is what it knows now, the same for the terminal bar and the ``--json`` lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..bulk import Progress

__all__ = ["SyncMonitor", "describe", "ticking"]

T = TypeVar("T")

WAITING = "waiting for the quota"


class SyncMonitor:
    """The running counts of a sync, with its rate and ETA.

    ``limit`` calls per ``window`` seconds is the quota (``None``: none): the ETA is the later
    of "the remaining keys at the rate so far" and "the remaining calls through the quota",
    counting the calls of the last window (the remaining calls are taken to share one
    interface's quota, as the keys of one kind do). A call told to wait for a tenth of the
    window or more puts the monitor in the ``waiting for the quota`` state until its slot
    comes; ``on_wait`` is then called once (on entering that state).
    """

    def __init__(
        self,
        *,
        limit: int | None,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[], None] | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.on_wait = on_wait
        self.started = clock()
        self.done = 0
        self.failed = 0
        self.total: int | None = None
        self.quota_waits = 0
        """How many calls waited for the quota (a tenth of the window or more)."""
        self._recent: deque[float] = deque()  # when the keys of the last window were done
        self._release = float("-inf")  # when the last call waiting for the quota gets its slot

    def progress(self, progress: Progress) -> None:
        """The sync's counts (``on_progress``)."""
        if progress.done > self.done:
            self._recent.append(self.clock())
        self.done, self.failed, self.total = progress.done, progress.failed, progress.total

    def quota_wait(self, tenant: str, interface: str, seconds: float) -> None:
        """A call waits ``seconds`` for its slot (``RateLimiter(on_wait=...)``)."""
        del tenant, interface
        if seconds < self.window / 10:
            return  # pacing between calls, not a wait worth showing
        now = self.clock()
        entering = self._release <= now
        self._release = max(self._release, now + seconds)
        self.quota_waits += 1
        if entering and self.on_wait is not None:
            self.on_wait()

    def waiting(self) -> float:
        """Seconds until the calls waiting for the quota may go (0: none is waiting)."""
        return max(0.0, self._release - self.clock())

    def eta(self) -> float | None:
        """Seconds until the sync is done, or ``None`` when it cannot be told yet."""
        if self.total is None:
            return None
        now = self.clock()
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        elapsed = now - self.started
        by_rate = remaining * elapsed / self.done if self.done else None
        by_quota = self._by_quota(now, remaining)
        known = [t for t in (by_rate, by_quota) if t is not None]
        return max(known) if known else None

    def _by_quota(self, now: float, remaining: int) -> float | None:
        if self.limit is None:
            return None
        recent = self._recent
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        beyond = remaining - max(0, self.limit - len(recent))  # calls the window cannot take
        wait = self.waiting()
        if beyond <= 0:
            return wait
        # The first one waits for the oldest slot of the window; each ``limit`` more, a window.
        first = recent[0] + self.window - now if recent else 0.0
        return max(wait, first) + (beyond - 1) // self.limit * self.window

    def snapshot(self, *, final: bool = False) -> dict[str, Any]:
        """What the monitor knows now, as a JSON-ready object."""
        elapsed = self.clock() - self.started
        # Rounded up: a wait or an ETA under a second is not shown as none.
        waiting = 0.0 if final else math.ceil(self.waiting() * 10) / 10
        eta = 0.0 if final else self.eta()
        if eta is not None:
            eta = max(eta, waiting)  # never sooner than the wait shown beside it
        return {
            "event": "progress",
            "state": _state(final, self.total, waiting),
            "done": self.done,
            "total": self.total,
            "failed": self.failed,
            "elapsed_s": round(elapsed, 1),
            "rate_per_s": round(self.done / elapsed, 2) if elapsed > 0 else None,
            "eta_s": math.ceil(eta) if eta is not None else None,
            "quota_wait_s": waiting,
            "quota_waits": self.quota_waits,
        }


def _state(final: bool, total: int | None, waiting: float) -> str:
    if final:
        return "done"
    if waiting > 0:
        return WAITING
    return "planning" if total is None else "running"


def describe(snapshot: dict[str, Any]) -> str:
    """One line for the terminal: rate, ETA, failures, and the quota wait if any."""
    parts = []
    rate = snapshot["rate_per_s"]
    parts.append(f"{rate:.1f}/s" if rate is not None else "-/s")
    eta = snapshot["eta_s"]
    parts.append(f"ETA {_clock(eta)}" if eta is not None else "ETA -")
    parts.append(f"{snapshot['failed']} failed")
    if snapshot["state"] == WAITING:
        parts.append(f"{WAITING} ({snapshot['quota_wait_s']:.0f} s)")
    return " · ".join(parts)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


async def ticking(work: Coroutine[Any, Any, T], tick: Callable[[], None], interval: float) -> T:
    """Run ``work``, calling ``tick`` every ``interval`` seconds until it ends; its result.

    Cancelled, it cancels ``work`` and waits for it to unwind (the journal closes cleanly).
    """
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=interval)
            if not task.done():
                tick()
        return task.result()
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
