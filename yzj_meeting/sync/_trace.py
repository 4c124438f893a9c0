"""The sync run's seam to the client's observer: a span per run, a child span per key.

Only an observer with the ``_observe.SyncObserver`` hooks (OpenTelemetry's ``Telemetry``) is
told; without one, ``observed`` and ``observed_run`` hand back what they were given, and a run
pays one attribute lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from .._observe import SyncObserver
from ..auth import Credentials
from ..client import MeetingClient
from .plan import Action

__all__ = ["observed", "observed_run"]

P = ParamSpec("P")
R = TypeVar("R")

Run = Callable[[Action], Coroutine[Any, Any, str | None]]


def _sync_observer(client: MeetingClient) -> SyncObserver | None:
    observer = getattr(client, "_observer", None)
    return observer if isinstance(observer, SyncObserver) else None


def observed(
    apply: Callable[Concatenate[MeetingClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[MeetingClient, P], Coroutine[Any, Any, R]]:
    """``apply`` inside a run span carrying the result's counts, when the client is observed."""

    @functools.wraps(apply)
    async def run(client: MeetingClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        observer = _sync_observer(client)
        if observer is None:
            return await apply(client, *args, **kwargs)
        owner = getattr(client.token_provider, "credentials", None)
        tenant = (owner.eid or owner.app_id or "") if isinstance(owner, Credentials) else ""
        ctx = observer.sync_started(tenant)
        try:
            result = await apply(client, *args, **kwargs)
        except BaseException as exc:
            observer.sync_ended(ctx, None, exc)
            raise
        counts = getattr(result, "counts", None)
        totals = dict(counts()) if callable(counts) else {}
        totals["kept"] = getattr(result, "kept", 0)
        observer.sync_ended(ctx, totals, None)
        return result

    return run


def observed_run(client: MeetingClient, run: Run) -> Run:
    """``run`` (one key's action) inside a child span, when the client is observed."""
    observer = _sync_observer(client)
    if observer is None:
        return run

    async def traced(action: Action) -> str | None:
        assert observer is not None
        ctx = observer.action_started(action.key, str(action.kind))
        try:
            result = await run(action)
        except BaseException as exc:
            observer.action_ended(ctx, None, exc)
            raise
        observer.action_ended(ctx, result, None)
        return result

    return traced
