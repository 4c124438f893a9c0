"""The worker commands as plain coroutines (the CLI wires them as ``yzj-meeting worker``,
``enqueue``, ``status``, ``journal migrate`` and ``sync --journal postgresql://...``).

Each takes the database URL; none takes or prints a secret. Bad input raises a
``ValidationError`` naming the field (``ScheduleError`` for a schedule) before anything is sent
or enqueued.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..errors import ValidationError
from ..sync import Entry, JournalRow, SyncResult, load_schedule, target_name
from ..sync.pg_journal import make_pool, migrate, read_rows
from .app import (
    CONTEXT_KEY,
    RETRY,
    WorkerConfig,
    defer_sync,
    make_app,
    recover_own,
    recover_stalled,
)
from .core import DEFAULT_LEASE, ClientFactory, LeaseOptions, default_client_factory, sync_tenant
from .tenants import Tenants, load_tenants

try:
    import psycopg
    from procrastinate import RetryStrategy
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("workers need the workers extra: pip install 'yzj-meeting[workers]'") from exc

__all__ = [
    "TenantStatus",
    "enqueue",
    "format_status",
    "journal_migrate",
    "run_worker",
    "shared_rows",
    "status",
    "sync_foreground",
]

log = logging.getLogger("yzj_meeting.workers")


def check_database_url(url: str) -> str:
    """``url`` if it names a PostgreSQL database; ``ValidationError("database")`` otherwise."""
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise ValidationError("database", "must be a postgresql:// URL")
    return url


async def journal_migrate(database: str) -> int:
    """Create or upgrade the journal's tables and procrastinate's; returns the journal schema
    version."""
    version = await migrate(check_database_url(database))
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext('yzj_meeting.procrastinate'))")
        try:
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            found = await cur.fetchone()
            if not (found and found[0]):
                app = make_app(database, resync_cron=None)
                async with app.open_async():
                    await app.schema_manager.apply_schema_async()
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('yzj_meeting.procrastinate'))")
    return version


async def enqueue(file: str | os.PathLike[str], eid: str, database: str) -> int | None:
    """Check the schedule, remember the tenant for the periodic re-sync, enqueue its sync.

    Returns the job id, or ``None`` if the tenant's previous job is still waiting (kept).
    """
    check_database_url(database)
    if not isinstance(eid, str) or not eid.strip():
        raise ValidationError("eid", "must be a non-empty string")
    path = await asyncio.to_thread(_checked_schedule, file)
    app = make_app(database, resync_cron=None)
    async with app.open_async():
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO yzj_tenants (eid, schedule) VALUES (%s, %s) ON CONFLICT (eid) "
                "DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = clock_timestamp()",
                (eid, path),
            )
        return await defer_sync(app, eid, path)


def _checked_schedule(file: str | os.PathLike[str]) -> str:
    """The absolute path of a valid schedule; ``ScheduleError`` lists every problem."""
    path = os.path.abspath(file)
    load_schedule(path)
    return path


@attrs.frozen
class TenantStatus:
    """What ``status`` shows for one tenant."""

    eid: str
    last_run: datetime | None
    last_outcome: str | None
    counts: Mapping[str, int] | None
    failed_runs: int
    last_errors: tuple[str, ...]
    in_doubt: tuple[str, ...]
    queued: int


_STATUS_SQL = """
WITH eids AS (SELECT eid FROM yzj_tenants UNION SELECT eid FROM yzj_runs),
last AS (
    SELECT DISTINCT ON (eid) eid, started_at, outcome, counts, errors
    FROM yzj_runs ORDER BY eid, id DESC
)
SELECT e.eid, l.started_at, l.outcome, l.counts, l.errors,
    (SELECT count(*) FROM yzj_runs r WHERE r.eid = e.eid AND r.outcome <> 'ok'),
    (SELECT coalesce(array_agg(j.key ORDER BY j.key), '{}') FROM yzj_journal j
        WHERE j.target LIKE '%%#' || e.eid AND j.pending IN ('create', 'cancel')),
    {queued}
FROM eids e LEFT JOIN last l ON l.eid = e.eid
ORDER BY e.eid
"""


_QUEUED_SQL = """(SELECT count(*) FROM procrastinate_jobs p
        WHERE p.lock = 'yzj-tenant:' || e.eid AND p.status IN ('todo', 'doing'))"""


async def status(database: str) -> list[TenantStatus]:
    """Per tenant: the last run, its counts, failed runs, keys in doubt, jobs queued."""
    async with await psycopg.AsyncConnection.connect(
        check_database_url(database), autocommit=True
    ) as conn:
        cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        jobs = await cur.fetchone()
        queued = _QUEUED_SQL if jobs and jobs[0] else "0"
        cur = await conn.execute(_STATUS_SQL.replace("{queued}", queued).encode())
        rows = await cur.fetchall()
    return [
        TenantStatus(
            eid=eid,
            last_run=started,
            last_outcome=outcome,
            counts=counts,
            failed_runs=int(failed),
            last_errors=tuple(errors or ()),
            in_doubt=tuple(doubt),
            queued=int(queued),
        )
        for eid, started, outcome, counts, errors, failed, doubt, queued in rows
    ]


def format_status(tenants: list[TenantStatus]) -> str:
    """``status`` as plain text, one block per tenant."""
    lines: list[str] = []
    for t in tenants:
        when = t.last_run.isoformat(timespec="seconds") if t.last_run else "never"
        counts = " ".join(f"{k}={v}" for k, v in (t.counts or {}).items())
        lines.append(
            f"{t.eid}: last run {when} {t.last_outcome or '-'} {counts}".rstrip()
            + f"; failed runs {t.failed_runs}; queued {t.queued}"
        )
        if t.in_doubt:
            lines.append(f"  in doubt: {', '.join(t.in_doubt)}")
        lines.extend(f"  error: {error}" for error in t.last_errors[:5])
    return "\n".join(lines)


def _redis_options(redis: str | None) -> dict[str, Any]:
    """``MeetingClient`` options sharing tokens and quota through Redis (``yzj_meeting.redis``):
    one connection pool for the worker, one token and one quota per tenant for the fleet.

    The quota is granted as an even flow (``spread``): a burst of a whole window's calls would
    make the next call wait up to a window, past its intent's send deadline (the wait for a
    slot comes after the intent is journaled), leaving it in doubt for the next run.
    """
    if redis is None:
        return {}
    try:
        shared: Any = importlib.import_module("yzj_meeting.redis")
        client: Any = importlib.import_module("redis.asyncio")
    except ImportError:
        raise ValidationError(
            "redis", "install the redis extra: pip install 'yzj-meeting[redis]'"
        ) from None
    try:
        # A stalled Redis must fail fast to the in-process fallback, not hang every call.
        connection = client.Redis.from_url(redis, socket_timeout=5.0, socket_connect_timeout=5.0)
    except ValueError as exc:
        raise ValidationError("redis", f"is not a Redis URL ({exc})") from None
    return {
        "token_store": shared.RedisTokenStore(connection),
        "rate_limiter": shared.RedisRateLimiter(connection, spread=True),
    }


async def run_worker(
    database: str,
    *,
    redis: str | None = None,
    concurrency: int = 4,
    tenants_file: str | os.PathLike[str] | None = None,
    lease: LeaseOptions = DEFAULT_LEASE,
    client_factory: ClientFactory | None = None,
    resync_cron: str | None = "*/10 * * * *",
    stalled_after: float = 30.0,
    heartbeat: float = 5.0,
    environ: Mapping[str, str] | None = None,
    install_signal_handlers: bool = True,
    retry: RetryStrategy = RETRY,
) -> None:
    """Run a worker until SIGINT/SIGTERM (or cancelled): ``concurrency`` tenants at once."""
    check_database_url(database)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", "must be an int >= 1")
    tenants = load_tenants(tenants_file, environ)
    factory = client_factory or default_client_factory(**_redis_options(redis))
    await journal_migrate(database)
    pool = await make_pool(database, max_size=2 * concurrency + 2)
    app = make_app(database, resync_cron=resync_cron, retry=retry, connections=concurrency + 2)
    config = WorkerConfig(
        pool=pool, tenants=tenants, client_factory=factory, lease=lease, retry=retry
    )
    try:
        async with app.open_async():
            every = max(1.0, stalled_after / 3)
            recoveries = [
                asyncio.create_task(recover_stalled(app, after=stalled_after, every=every)),
                asyncio.create_task(recover_own(app, config.running, every=every)),
            ]
            try:
                await app.run_worker_async(
                    concurrency=concurrency,
                    additional_context={CONTEXT_KEY: config},
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    fetch_job_polling_interval=1.0,
                    # A stopping worker (SIGTERM, or its database connection lost) stops its
                    # heartbeats first: its jobs must end (aborted, to be retried) before the
                    # others' recovery takes them as stalled, not run on beside their retries.
                    shutdown_graceful_timeout=stalled_after / 2,
                    install_signal_handlers=install_signal_handlers,
                )
            finally:
                # Again until they end: a cancellation can be lost in a pool's connection wait
                # (psycopg_pool hands a connection to a task just as it is cancelled).
                while pending := [task for task in recoveries if not task.done()]:
                    for task in pending:
                        task.cancel()
                    await asyncio.wait(pending, timeout=1.0)
    finally:
        await pool.close()


async def sync_foreground(
    file: str | os.PathLike[str],
    eid: str,
    journal: str,
    *,
    tenants_file: str | os.PathLike[str] | None = None,
    tenants: Tenants | None = None,
    entries: Sequence[Entry] | None = None,
    lease: LeaseOptions = DEFAULT_LEASE,
    prune: bool = False,
    concurrency: int = 8,
    client_factory: ClientFactory | None = None,
    environ: Mapping[str, str] | None = None,
) -> SyncResult:
    """``yzj-meeting sync FILE --eid EID --journal postgresql://...``: one tenant, now, on the
    shared journal (taking its lease like a worker). ``tenants`` (else the tenants file and the
    environment) supply the secret; ``entries``, the schedule already read."""
    await migrate(check_database_url(journal))
    return await sync_tenant(
        eid,
        file,
        db=journal,
        tenants=tenants if tenants is not None else load_tenants(tenants_file, environ),
        client_factory=client_factory,
        lease=lease,
        prune=prune,
        concurrency=concurrency,
        entries=entries,
    )


async def shared_rows(journal: str, eid: str, base_url: str) -> dict[str, JournalRow]:
    """What the shared journal at ``journal`` knows of tenant ``eid`` (read without its lease:
    for a dry run or the prune guard)."""
    await migrate(check_database_url(journal))
    return await read_rows(journal, target_name(base_url, eid))
