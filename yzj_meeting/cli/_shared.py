"""``yzj-meeting sync FILE --journal postgresql://...``: one tenant on the journal the workers
share, under the tenant's lease (the same semantics as a worker's job).

psycopg and procrastinate are imported only here, only when ``--journal`` is given; without the
``workers`` extra, or with a URL that is not a PostgreSQL one, the command exits 2 having sent
nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import click

from .._urls import canonical_base_url
from ..auth import DEFAULT_BASE_URL
from ..errors import ValidationError
from ..sync import Entry, SyncResult
from ..sync.apply import dry_result
from ..sync.guards import prune_refusal
from ..sync.plan import plan
from ._common import run, say

__all__ = ["SharedRun", "sync_shared"]


class SharedRun:
    """What ``sync --journal`` was given (the checked options)."""

    def __init__(
        self,
        url: str,
        eid: str | None,
        secret: str | None,
        base_url: str | None,
        lease_ttl: float,
        wait: float,
    ) -> None:
        self.url = _checked_url(url)
        if not eid or not secret:
            missing = " and ".join(
                name
                for name, v in (("--eid/YZJ_EID", eid), ("--secret/YZJ_SECRET", secret))
                if not v
            )
            raise click.UsageError(f"--journal syncs one tenant: give {missing}")
        self.eid = eid
        self.secret = secret
        try:
            self.base_url = canonical_base_url(base_url or DEFAULT_BASE_URL)
        except ValidationError as exc:
            raise click.BadParameter(exc.message, param_hint="--base-url") from None
        self.lease_ttl = lease_ttl
        self.wait = wait

    def __repr__(self) -> str:
        return f"SharedRun(eid={self.eid!r}, base_url={self.base_url!r})"


def _workers() -> Any:
    """The workers' commands module, or a usage error (exit 2) naming the missing extra."""
    try:
        commands = importlib.import_module("yzj_meeting.workers.commands")
    except ImportError:
        raise click.UsageError(
            "--journal needs the workers extra: pip install 'yzj-meeting[workers]'"
        ) from None
    return commands


def _checked_url(url: str) -> str:
    """``url`` if libpq can read it; never echoed back (it may hold a password)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("must be a postgresql:// URL", param_hint="--journal")
    commands = _workers()
    try:
        fields = commands.psycopg.conninfo.conninfo_to_dict(url)
    except commands.psycopg.Error:
        raise click.BadParameter(
            "not a valid PostgreSQL URL (see the libpq connection URI format)",
            param_hint="--journal",
        ) from None
    ports = str(fields.get("port") or "0").split(",")
    if not all(port.isdigit() and int(port) < 65536 for port in ports):
        raise click.BadParameter("the URL's port must be a number", param_hint="--journal")
    return url


def sync_shared(
    shared: SharedRun,
    entries: Sequence[Entry],
    *,
    prune: bool,
    confirmed: bool,
    dry_run: bool,
    concurrency: int,
    calls_per_minute: int = 1500,
) -> SyncResult:
    """Run the sync on the shared journal, or plan it (``dry_run``: the would-be result).

    Exits 2 when a large prune is not confirmed (nothing sent), 1 when the database fails.
    """
    commands = _workers()
    if dry_run or (prune and not confirmed):
        rows = _database(commands, commands.shared_rows(shared.url, shared.eid, shared.base_url))
        actions = plan(entries, rows, prune=prune)
        refusal = prune_refusal(actions, rows) if prune and not confirmed else None
        if refusal is not None:
            say(f"yzj-meeting: {refusal}" + ("" if dry_run else "; nothing was sent"))
            if not dry_run:
                raise SystemExit(2)
        if dry_run:
            return dry_result(actions)
    from ..workers import LeaseOptions, Tenant, Tenants
    from ..workers.core import default_client_factory

    ttl = shared.lease_ttl
    tenant = Tenant(shared.eid, shared.secret, shared.base_url)
    result: SyncResult = _database(
        commands,
        commands.sync_foreground(
            "",
            shared.eid,
            shared.url,
            tenants=Tenants({shared.eid: tenant}, environ={}),
            entries=entries,
            # The worker's proportions: renewals well within the TTL, every attempt over
            # before the lease could lapse.
            lease=LeaseOptions(
                ttl=ttl, send_budget=ttl / 6, request_timeout=ttl / 3, wait=shared.wait
            ),
            prune=prune,
            concurrency=concurrency,
            client_factory=default_client_factory(calls_per_minute=calls_per_minute),
        ),
    )
    return result


def _database(commands: Any, coroutine: Any) -> Any:
    """``run(coroutine)``; the shared journal's own failures are one line and an exit."""
    try:
        return run(_guarded(coroutine))
    except _SharedFailed as exc:
        say(f"yzj-meeting: {exc.message}")
        raise SystemExit(exc.code) from None


class _SharedFailed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def _guarded(coroutine: Any) -> Any:
    """Await ``coroutine``, turning the lease's and the database's errors into
    ``_SharedFailed`` (a database error shows its type and first line: libpq never echoes a
    password)."""
    import psycopg

    from ..sync.pg_journal import FencedOut, LeaseHeld

    try:
        return await coroutine
    except LeaseHeld as exc:
        raise _SharedFailed(
            2,
            f"{exc}; a killed run's lease lapses by itself (--lease-ttl): run again then, "
            "or wait longer with --lock-timeout",
        ) from None
    except FencedOut as exc:
        raise _SharedFailed(1, f"{exc}: run again to finish (nothing is done twice)") from None
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        first = lines[0] if lines else ""
        raise _SharedFailed(1, f"the journal database: {type(exc).__name__}: {first}") from None
