"""Observation hooks: what the client reports while it works (for tracing and metrics).

``MeetingClient(observer=...)`` takes any object with these methods; the OpenTelemetry plug-in
implements it. The client checks ``observer is not None`` before building any event, so an
unobserved client pays nothing. No event ever carries the token, the secret or a body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["CallEnd", "Observer", "SyncObserver"]


@attrs.frozen
class CallEnd:
    """How one logical call ended. ``outcome`` is ``"ok"`` or the error's class name."""

    endpoint: str
    tenant: str
    attempts: int
    outcome: str
    error_code: int | None
    outcome_unknown: bool
    elapsed: float


class Observer(Protocol):
    """Called by ``MeetingClient``; every method must return quickly and never raise."""

    def call_started(self, endpoint: str, tenant: str) -> object:
        """A logical call starts; the value returned is handed back to ``call_ended``."""
        ...

    def call_ended(self, context: object, end: CallEnd) -> None:
        """A logical call ended (all its attempts done)."""
        ...

    def attempt(
        self,
        endpoint: str,
        tenant: str,
        attempt: int,
        status: int | None,
        error_code: int | None,
        elapsed: float,
        error: str | None,
    ) -> None:
        """One attempt ended (a resend after a token renewal keeps its attempt number)."""
        ...

    def retry(self, endpoint: str, tenant: str, attempt: int, delay: float) -> None:
        """After failed ``attempt`` the client waits ``delay`` seconds and tries again."""
        ...

    def token(self, tenant: str, kind: str, elapsed: float, error: str | None) -> None:
        """The client waited for a token: ``kind`` is ``"fetch"`` or ``"renew"``."""
        ...

    def quota_wait(self, tenant: str, interface: str, waited: float) -> None:
        """A call waited ``waited`` seconds for its rate-limit slot."""
        ...

    # Optional: ``token_request(tenant, endpoint)`` is called, when the observer has it, each
    # time the client's own ``TokenProvider`` sends a request to a token endpoint.


@runtime_checkable
class SyncObserver(Protocol):
    """Optional hooks of an observer that also follows sync runs (``sync.apply``).

    ``*_started`` runs in the task that goes on to do the work and may make its context
    current there; ``*_ended`` gets the value back in that same task.
    """

    def sync_started(self, tenant: str) -> object:
        """A sync run starts."""
        ...

    def sync_ended(
        self, ctx: object, counts: Mapping[str, int] | None, error: BaseException | None
    ) -> None:
        """The run ended with ``counts`` (``None`` when ``error`` stopped it)."""
        ...

    def action_started(self, key: str, action: str) -> object:
        """One key's action (``create``, ``modify``, ``reconcile``, ...) starts."""
        ...

    def action_ended(self, ctx: object, result: str | None, error: BaseException | None) -> None:
        """The key's action ended: the count it landed in, or its error."""
        ...
