"""What the Redis token store and rate limiter share: the failures that mean "Redis is
unreachable", hash-tag names, and the health record that rate-limits the WARNING."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger("yzj_meeting.redis")

#: What "Redis is unreachable" means here: any Redis failure, a socket error or a timeout.
DOWN = (RedisError, OSError, TimeoutError)

_PLAIN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def tag(name: str) -> str:
    """A hash-tag body for ``name``: itself when plain, else a digest (no braces, bounded)."""
    if _PLAIN.fullmatch(name):
        return name
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def text(value: Any) -> str:
    """A Redis answer (bytes or not) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Health:
    """Whether Redis answered lately; one WARNING per ``warn_every`` seconds while it does not.

    ``on_down`` / ``on_up`` are called when Redis stops answering and when it answers again.
    """

    def __init__(
        self,
        what: str,
        fallback: str,
        *,
        retry: float,
        warn_every: float,
        on_down: Callable[[], None] | None = None,
        on_up: Callable[[], None] | None = None,
    ) -> None:
        self._what = what
        self.retry = retry
        self._on_down = on_down
        self._on_up = on_up
        self._fallback = fallback
        self._warn_every = warn_every
        self._down_until = float("-inf")
        self._warned_at = float("-inf")
        self.down = False
        self.failures = 0
        """Redis failures seen (for tests and metrics)."""

    def usable(self) -> bool:
        """Try Redis now? (after a failure, not again for ``retry`` seconds)."""
        return time.monotonic() >= self._down_until

    def retry_in(self) -> float:
        """Seconds until Redis may be tried again (0 when it may be now)."""
        return max(0.0, self._down_until - time.monotonic())

    def failed(self, exc: BaseException) -> None:
        """Redis failed: use the fallback for ``retry`` seconds."""
        now = time.monotonic()
        self.failures += 1
        if not self.down:
            self.down = True
            if self._on_down is not None:
                self._on_down()
        self._down_until = now + self.retry
        if now - self._warned_at >= self._warn_every:
            self._warned_at = now
            log.warning(
                "%s: Redis unreachable (%s: %s); %s until it answers again",
                self._what,
                type(exc).__name__,
                str(exc)[:200],
                self._fallback,
            )

    def ok(self) -> None:
        """Redis answered."""
        if self.down:
            self.down = False
            log.warning("%s: Redis answers again; sharing resumes", self._what)
            if self._on_up is not None:
                self._on_up()
