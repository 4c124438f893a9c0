"""The send gate: a worker sends nothing once its tenant lease may be lost or an intent's
send deadline has passed.

A lease is held ``until`` an instant of the local monotonic clock that is never later than the
database's expiry (it is measured from before the renewing transaction began). ``check`` runs
immediately before every attempt leaves (``GatedTransport`` wraps the real transport, token
requests included) and refuses it when:

- the lease was seen lost (a renewal or a fenced journal write matched no row), or
- the attempt could still be on the wire when the lease expires (``margin``: the request
  timeout), or
- the attempt may act (any endpoint but the reads of ``READS``) and the intent this task
  recorded last (``PgJournal.begin``) is past its send deadline. Reads are let through: the
  deadline only bounds when the intent's own call may still land, and a task whose call ended
  in doubt goes on (with that deadline still set) to look up other keys.

A refusal raises ``SendRefused``, which is deliberately not a ``YzjError``: the client does not
retry it and the sync leaves the intent in doubt (an earlier attempt of the same call may have
acted), for whoever holds the lease next to resolve.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable

from .._http import HttpRequest, HttpResponse
from ..transports.base import Transport

__all__ = ["READS", "GatedTransport", "SendGate", "SendRefused"]

READS = frozenset(
    (
        *("queryByDay", "detail", "queryByRange", "pageRecentList", "queryByUser"),
        *("getAttendDetail", "hasNew", "bookInfo", "freeRooms", "getActors"),
        *("getAccessToken", "refreshToken"),
    )
)
"""The endpoints that never act (lookups and tokens): sent past a send deadline too."""

# The local monotonic instant after which the current task's last intent must not be sent.
_SEND_BY: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "yzj_meeting_send_by", default=None
)


class SendRefused(Exception):
    """The send gate refused an attempt: the lease may be lost, or the send deadline passed."""


class SendGate:
    """Whether this worker may still send for one tenant (see the module docstring)."""

    def __init__(self, *, margin: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.margin = margin
        self.clock = clock
        self.until = -math.inf
        self.lost: str | None = None
        self.label = ""  # who sends: target|owner|fence (set when the lease is taken)

    def extend(self, until: float) -> None:
        """The lease is held until ``until`` (local monotonic), unless already lost."""
        if self.lost is None:
            self.until = max(self.until, until)

    def lose(self, reason: str) -> None:
        """The lease is lost for good: refuse every later attempt."""
        if self.lost is None:
            self.lost = reason
        self.until = -math.inf

    def held(self) -> bool:
        """Whether the lease is surely held for one more full request."""
        return self.lost is None and self.clock() + self.margin < self.until

    def send_by(self, deadline: float | None) -> None:
        """Attempts from this task must leave before ``deadline`` (``None``: no intent)."""
        _SEND_BY.set(deadline)

    def check(self, endpoint: str = "") -> None:
        """Raise ``SendRefused`` unless an attempt to ``endpoint`` may leave now."""
        if self.lost is not None:
            raise SendRefused(f"the tenant lease was lost ({self.lost}); nothing more is sent")
        now = self.clock()
        if now + self.margin >= self.until:
            raise SendRefused("the tenant lease may expire before an answer: not sending")
        deadline = _SEND_BY.get()
        if deadline is not None and now >= deadline and endpoint not in READS:
            raise SendRefused("the intent's send deadline has passed: not sending")


class GatedTransport:
    """A transport that asks ``gate`` before every attempt (the httpx wrapping style)."""

    def __init__(self, inner: Transport, gate: SendGate) -> None:
        self.inner = inner
        self.gate = gate

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send through the inner transport if the gate allows it now."""
        self.gate.check(request.endpoint)
        return await self.inner.send(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()
