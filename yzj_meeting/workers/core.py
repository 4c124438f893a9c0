"""``sync_tenant``: one tenant's sync on the shared journal, callable from any job engine.

It is idempotent (running it twice, or after any crash, converges to the same meetings) because
the journal records every intent before its call and the lease fences every other writer::

    result = await sync_tenant("17717", "/schedules/17717.json", db=url, tenants=tenants)

It takes the tenant's lease (waiting for a dead holder's to expire and its send deadlines to
pass), loads the schedule, syncs, records the run (counts and failures, never a secret) and
releases the lease.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .._http import Timeout
from ..auth import Credentials
from ..client import MeetingClient
from ..sync import Entry, ScheduleError, SyncResult, load_schedule, sync, target_name
from ..sync.fence import GatedTransport, SendGate
from ..sync.pg_journal import FencedOut, PgJournal, make_pool
from ..transports.base import Transport
from .tenants import Tenant, TenantError, Tenants

try:
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("workers need the workers extra: pip install 'yzj-meeting[workers]'") from exc

__all__ = [
    "DEFAULT_LEASE",
    "ClientFactory",
    "LeaseOptions",
    "default_client_factory",
    "sync_tenant",
]

log = logging.getLogger("yzj_meeting.workers")

ClientFactory = Callable[[Tenant, SendGate, Timeout], MeetingClient]
"""Makes the client for one tenant's sync; it must send through ``GatedTransport(.., gate)``."""

_MAX_ERRORS = 20


@attrs.frozen
class LeaseOptions:
    """The tenant lease: ``ttl``, how long a call's attempts may start (``send_budget``), the
    per-attempt ``request_timeout`` and how long to ``wait`` for another holder's lease."""

    ttl: float = 60.0
    send_budget: float = 10.0
    request_timeout: float = 20.0
    wait: float = 90.0

    def timeout(self) -> Timeout:
        """The client's per-attempt timeout: never longer than ``request_timeout``."""
        return Timeout(
            total=self.request_timeout,
            connect=min(10.0, self.request_timeout),
            read=self.request_timeout,
        )


DEFAULT_LEASE = LeaseOptions()


def default_client_factory(
    wrap: Callable[[Transport], Transport] | None = None, **client_options: Any
) -> ClientFactory:
    """A factory of aiohttp clients sending through the gate; ``client_options`` go to
    ``MeetingClient`` (e.g. a shared ``token_store`` or ``rate_limiter`` when it takes them)."""

    def make(tenant: Tenant, gate: SendGate, timeout: Timeout) -> MeetingClient:
        from ..transports.aiohttp import AiohttpTransport

        inner: Transport = AiohttpTransport(timeout=timeout)
        if wrap is not None:
            inner = wrap(inner)
        return MeetingClient(
            credentials=Credentials(eid=tenant.eid, secret=tenant.secret),
            base_url=tenant.base_url,
            transport=GatedTransport(inner, gate),
            timeout=timeout,
            **client_options,
        )

    return make


async def sync_tenant(
    eid: str,
    schedule: str | os.PathLike[str],
    *,
    db: str | AsyncConnectionPool,
    tenants: Tenants,
    client_factory: ClientFactory | None = None,
    lease: LeaseOptions = DEFAULT_LEASE,
    owner: str | None = None,
    prune: bool = False,
    concurrency: int = 8,
    entries: Sequence[Entry] | None = None,
) -> SyncResult:
    """Sync tenant ``eid`` to the schedule at ``schedule``; returns what was done.

    ``entries``, when given, are the schedule already read (e.g. with a people map); else the
    file at ``schedule`` is read here.

    Raises ``TenantError`` (no secret for ``eid``), ``ScheduleError`` (a bad schedule: nothing
    is sent), ``LeaseHeld`` (another live holder) or ``FencedOut`` (the lease was lost midway:
    this worker stopped sending; the next holder resolves what was in flight).
    """
    factory = client_factory or default_client_factory()
    pool = await make_pool(db) if isinstance(db, str) else db
    try:
        try:
            tenant = tenants.get(eid)
            wanted = list(entries) if entries is not None else load_schedule(schedule)
        except (TenantError, ScheduleError) as exc:
            # Our own messages (file:line, field names): never a secret.
            run = await _run_started(pool, "", eid, owner or "", None)
            await _run_finished(pool, run, None, exc)
            raise
        target = target_name(tenant.base_url, eid)
        async with await PgJournal.open(
            pool,
            target,
            owner=owner,
            ttl=lease.ttl,
            send_budget=lease.send_budget,
            request_timeout=lease.request_timeout,
            wait=lease.wait,
        ) as journal:
            run = await _run_started(pool, target, eid, journal.owner, journal.fence)
            try:
                async with factory(tenant, journal.gate, lease.timeout()) as client:
                    result = await sync(
                        client, journal, wanted, prune=prune, concurrency=concurrency
                    )
                if journal.gate.lost is not None and journal.gate.lost != "released":
                    raise FencedOut(f"{eid}: the lease was lost during the sync")
            except BaseException as exc:
                await _run_finished(pool, run, None, exc)
                raise
            await _run_finished(pool, run, result, None)
            return result
    finally:
        if isinstance(db, str):
            await pool.close()


async def _run_started(
    pool: AsyncConnectionPool, target: str, eid: str, owner: str, fence: int | None
) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO yzj_runs (target, eid, owner, fence) VALUES (%s, %s, %s, %s) RETURNING id",
            (target, eid, owner, fence),
        )
        found = await cur.fetchone()
    assert found is not None
    return int(found[0])


async def _run_finished(
    pool: AsyncConnectionPool, run: int, result: SyncResult | None, error: BaseException | None
) -> None:
    if result is not None:
        outcome = "ok" if result.ok else "failed"
        counts: dict[str, int] | None = {**result.counts(), "kept": result.kept}
        errors = [str(item) for item in result.errors[:_MAX_ERRORS]]
    else:
        counts = None
        if isinstance(error, (TenantError, ScheduleError)):
            outcome, errors = "rejected", [str(error)]
        else:
            outcome = "fenced" if isinstance(error, FencedOut) else "error"
            # The type only: the SDK's texts never hold a secret, but a foreign one might.
            errors = [type(error).__name__]
    try:
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE yzj_runs SET finished_at = clock_timestamp(), outcome = %s, "
                "counts = %s, errors = %s WHERE id = %s",
                (outcome, Jsonb(counts) if counts is not None else None, Jsonb(errors), run),
            )
    except Exception as exc:  # the run's own outcome matters more than its record
        log.warning("could not record run %d: %s", run, type(exc).__name__)
