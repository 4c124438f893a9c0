"""The procrastinate side: the sync job, the periodic re-sync, stalled-job recovery.

- ``yzj_meeting.sync_tenant(eid, schedule[, attempt])``: runs ``sync_tenant``. Deferred with
  ``lock="yzj-tenant:<eid>"`` (one job of a tenant runs at a time) and the same
  ``queueing_lock`` (enqueueing a tenant whose job is still waiting keeps one). A run that could
  not finish (keys failed, the lease was busy or lost) enqueues the tenant again with
  exponential backoff (``attempt`` + 1) unless a job of the tenant is already waiting, which
  then does the work. (procrastinate's own retry would put the failed job back under the
  queueing lock that the waiting job holds: a unique violation that leaves it "doing" and the
  tenant's lock held for good.) Bad input (unknown tenant, invalid schedule) is recorded, not
  retried. A job that fails otherwise (the database went away) is retried by procrastinate.
- ``yzj_meeting.resync_all``: periodic; enqueues every known tenant (``yzj_tenants``) again.
- ``recover_stalled``: a sync job whose worker stopped sending heartbeats (killed, paused, or
  only late: a database restart delays every worker's heartbeats) is ended and its tenant
  enqueued anew; other jobs go back to the queue. The tenant lease makes a worker that wakes
  up harmless.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs

from ..sync.pg_journal import FencedOut, LeaseHeld
from ..sync.schedule import ScheduleError
from .core import ClientFactory, LeaseOptions, sync_tenant
from .tenants import TenantError, Tenants

try:
    from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
    from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
    from procrastinate.jobs import Job, Status
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("workers need the workers extra: pip install 'yzj-meeting[workers]'") from exc

__all__ = [
    "CONTEXT_KEY",
    "RESYNC_TASK",
    "RETRY",
    "SYNC_TASK",
    "SyncIncomplete",
    "WorkerConfig",
    "backoff",
    "defer_sync",
    "make_app",
    "recover_own",
    "recover_stalled",
]

log = logging.getLogger("yzj_meeting.workers")

SYNC_TASK = "yzj_meeting.sync_tenant"
RESYNC_TASK = "yzj_meeting.resync_all"
CONTEXT_KEY = "yzj_meeting"
# total wait before retry n (0-based): 1 + 2 ** (n + 1) seconds: 3, 5, 9, 17, 33, ...
RETRY = RetryStrategy(max_attempts=12, wait=1, exponential_wait=2)


class SyncIncomplete(Exception):
    """Some keys of the tenant failed; the job is retried."""


@attrs.frozen
class WorkerConfig:
    """What a worker's jobs share: the journal's pool, the tenants, how to make clients."""

    pool: AsyncConnectionPool
    tenants: Tenants = attrs.field(repr=False)
    client_factory: ClientFactory | None = None
    lease: LeaseOptions = LeaseOptions()
    per_tenant_concurrency: int = 8
    prune: bool = False
    retry: RetryStrategy = RETRY
    running: Running = attrs.field(factory=lambda: Running(), repr=False)


@attrs.define
class Running:
    """The sync jobs this worker runs now, and the worker ids procrastinate gave it: what
    ``recover_own`` compares with the jobs the database says it runs."""

    jobs: set[int] = attrs.field(factory=set)
    workers: set[int] = attrs.field(factory=set)


def tenant_lock(eid: str) -> str:
    """The procrastinate lock (and queueing lock) of a tenant's jobs."""
    return f"yzj-tenant:{eid}"


async def _sync_job(context: JobContext, eid: str, schedule: str, attempt: int = 0) -> None:
    config: WorkerConfig = context.additional_context[CONTEXT_KEY]
    job = context.job
    if job.id is None:  # pragma: no cover - a fetched job always has its id
        return await _sync_run(context, config, eid, schedule, attempt)
    if job.worker_id is not None:
        config.running.workers.add(job.worker_id)
    config.running.jobs.add(job.id)
    try:
        await _sync_run(context, config, eid, schedule, attempt)
    finally:
        config.running.jobs.discard(job.id)


async def _sync_run(
    context: JobContext, config: WorkerConfig, eid: str, schedule: str, attempt: int
) -> None:
    try:
        result = await sync_tenant(
            eid,
            schedule,
            db=config.pool,
            tenants=config.tenants,
            client_factory=config.client_factory,
            lease=config.lease,
            prune=config.prune,
            concurrency=config.per_tenant_concurrency,
        )
    except (TenantError, ScheduleError) as exc:
        # Retrying cannot help; the run is recorded for ``status``.
        log.error("tenant %s: not synced: %s", eid, type(exc).__name__, extra={"tenant": eid})
        return
    except (LeaseHeld, FencedOut) as exc:
        await _again(context.app, config, eid, schedule, attempt, type(exc).__name__)
        return
    if not result.ok:
        await _again(context.app, config, eid, schedule, attempt, f"{result.failed} keys failed")
        return
    log.info("tenant %s: synced %s", eid, result.counts(), extra={"tenant": eid})


def backoff(strategy: RetryStrategy, attempt: int) -> float | None:
    """Seconds before attempt ``attempt + 1`` (0-based ``attempt``), by procrastinate's formula
    for ``strategy``; ``None`` once ``max_attempts`` are spent."""
    if strategy.max_attempts and attempt + 1 >= strategy.max_attempts:
        return None
    wait = strategy.wait + strategy.linear_wait * attempt
    if strategy.exponential_wait:
        wait += strategy.exponential_wait ** (attempt + 1)
    return float(wait)


async def _again(
    app: App, config: WorkerConfig, eid: str, schedule: str, attempt: int, why: str
) -> None:
    """Enqueue the tenant again after the backoff of ``attempt`` (the run is recorded)."""
    wait = backoff(config.retry, attempt)
    if wait is None:
        log.error(
            "tenant %s: %s after %d attempts; the periodic re-sync tries again",
            eid,
            why,
            attempt + 1,
        )
        return
    job = await defer_sync(app, eid, schedule, schedule_in=wait, attempt=attempt + 1)
    if job is None:
        log.warning("tenant %s: %s; a waiting job of the tenant takes over", eid, why)
    else:
        log.warning("tenant %s: %s; again in %.1f s (job %d)", eid, why, wait, job)


async def _resync_job(context: JobContext, timestamp: int) -> None:
    config: WorkerConfig = context.additional_context[CONTEXT_KEY]
    async with config.pool.connection() as conn:
        cur = await conn.execute("SELECT eid, schedule FROM yzj_tenants ORDER BY eid")
        known = await cur.fetchall()
    for eid, schedule in known:
        await defer_sync(context.app, eid, schedule)


def make_app(
    url: str,
    *,
    resync_cron: str | None = "*/10 * * * *",
    retry: RetryStrategy = RETRY,
    connections: int = 3,
) -> App:
    """A procrastinate app on the PostgreSQL database at ``url`` with the sync tasks.

    ``resync_cron`` is the periodic re-sync's cadence (cron, with an optional 6th field for
    seconds); ``None`` turns it off. ``retry`` is how a failed sync job is retried.
    ``connections`` caps the app's pool (a worker: its concurrency + 2).
    """
    # procrastinate's pool checks each connection on checkout (a restarted database is fine).
    # Without max_size psycopg_pool keeps exactly min_size: one connection then serialises a
    # worker's heartbeats, fetches, retries and recovery behind each other.
    connector = PsycopgConnector(conninfo=url, min_size=1, max_size=max(1, connections))
    app = App(connector=connector)
    app.task(name=SYNC_TASK, pass_context=True, retry=retry)(_sync_job)
    resync = app.task(name=RESYNC_TASK, pass_context=True, queueing_lock=RESYNC_TASK)(_resync_job)
    if resync_cron is not None:
        app.periodic(cron=resync_cron, periodic_id="resync")(resync)
    return app


async def defer_sync(
    app: App, eid: str, schedule: str, *, schedule_in: float | None = None, attempt: int = 0
) -> int | None:
    """Enqueue a sync of ``eid`` (in ``schedule_in`` seconds); its job id, or ``None`` when one
    is already waiting."""
    lock = tenant_lock(eid)
    task = app.configure_task(
        name=SYNC_TASK,
        lock=lock,
        queueing_lock=lock,
        schedule_in={"seconds": schedule_in} if schedule_in else None,
    )
    args: dict[str, Any] = {"eid": eid, "schedule": schedule}
    if attempt:
        args["attempt"] = attempt
    try:
        return await task.defer_async(**args)
    except AlreadyEnqueued:
        return None


async def recover_stalled(
    app: App, *, after: float, every: float, rounds: int | None = None
) -> None:
    """Hand on every job whose worker sent no heartbeat for ``after`` seconds (see ``_requeue``).

    Runs every ``every`` seconds (``rounds`` times, or until cancelled).
    """
    done = 0
    while rounds is None or done < rounds:
        done += 1
        try:
            stalled: Any = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=after)
            for job in stalled:
                await _requeue(app, job)
        except Exception as exc:  # the database may be restarting: try again next round
            log.warning("stalled-job recovery failed: %s", type(exc).__name__)
        await asyncio.sleep(every)


# Ends a silent worker's job only if it is still that worker's and running: its worker may
# have put it back to "todo" (a retry) since it was found, and procrastinate's finish_job would
# end a "todo" job too (the tenant's only waiting job, then).
_END_SILENT_SQL = """
UPDATE procrastinate_jobs SET status = 'failed', attempts = attempts + 1
WHERE id = %(job_id)s AND status = 'doing' AND worker_id IS NOT DISTINCT FROM %(worker_id)s
RETURNING id
"""


_OWN_SQL = """
SELECT * FROM procrastinate_jobs
WHERE status = 'doing' AND task_name = %(task)s AND worker_id = ANY(%(workers)s)
"""


async def recover_own(app: App, running: Running, *, every: float) -> None:
    """Hand on every sync job the database says this worker runs while it does not (runs until
    cancelled, every ``every`` seconds).

    procrastinate records a job's end after the task returns; when that fails (the database
    restarted meanwhile; a retry put back under the tenant's queueing lock while another job
    of the tenant waits: a unique violation) the job stays "doing" with a worker whose
    heartbeats are fresh, which no stalled-job recovery takes, and its tenant lock blocks the
    tenant's next jobs for good. A job seen so at two rounds in a row is handed on as a silent
    worker's job is (``_requeue``): ended, its tenant enqueued again.
    """
    suspects: set[int] = set()
    while True:
        await asyncio.sleep(every)
        if not running.workers:
            continue
        try:
            rows = await app.connector.execute_query_all_async(
                _OWN_SQL, task=SYNC_TASK, workers=sorted(running.workers)
            )
            orphans = {row["id"]: row for row in rows if row["id"] not in running.jobs}
            for job_id in orphans.keys() & suspects:
                log.warning("job %s is not running here any more", job_id)
                await _requeue(app, Job.from_row(orphans[job_id]))
            suspects = set(orphans)
        except Exception as exc:  # the database may be restarting: try again next round
            log.warning("recovery of this worker's jobs failed: %s", type(exc).__name__)


async def _requeue(app: App, job: Any) -> None:
    """Hand a silent worker's job on. A sync job is ended and its tenant enqueued anew (a
    fresh job, or the one already waiting): its worker may be alive after all (a database
    restart or a slow host delays heartbeats), and procrastinate lets a job's worker finish
    it even once it is back in "todo". Taken back to "todo", the job could then be marked
    succeeded by that worker after its run failed, having found "a waiting job" (itself) to
    take over: nothing would run the tenant again. Ended, it is no longer the one that waits.
    """
    if job.task_name == SYNC_TASK:
        args = job.task_kwargs
        # First the new job, then the end of the old: killed in between, the old job is still
        # "doing" and the next round ends it (the new one is already waiting).
        waiting = await defer_sync(
            app, args["eid"], args["schedule"], attempt=int(args.get("attempt", 0))
        )
        ended = await app.connector.execute_query_all_async(
            _END_SILENT_SQL, job_id=job.id, worker_id=job.worker_id
        )
        if not ended:
            log.warning("job %s of a silent worker was handed on by its worker", job.id)
        elif waiting is None:
            log.warning("job %s of a silent worker: a waiting job of its tenant takes over", job.id)
        else:
            log.warning("job %s of a silent worker is run again as job %d", job.id, waiting)
        return
    try:
        await app.job_manager.retry_job(job)
        log.warning("job %s of a silent worker goes back to the queue", job.id)
    except UniqueViolation:
        # A newer job of the same task is waiting (its queueing lock): it does this one's
        # work, so this one ends here rather than holding its lock forever.
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        log.warning("job %s of a silent worker is superseded by a waiting one", job.id)
