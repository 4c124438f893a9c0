"""The procrastinate side: enqueue (deduplicated), workers running jobs, status, no secrets."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate import RetryStrategy

from yzj_meeting.errors import ValidationError
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.sync.schedule import ScheduleError
from yzj_meeting.workers import LeaseOptions, Tenants
from yzj_meeting.workers.app import RETRY, _requeue, backoff, make_app, recover_stalled
from yzj_meeting.workers.commands import (
    enqueue,
    format_status,
    journal_migrate,
    run_worker,
    status,
    sync_foreground,
)

from .support import (
    FAKE_URL,
    SECRET,
    FakeFactory,
    database_text,
    live_titles,
    tenants,
    write_schedule,
)

LEASE = LeaseOptions(ttl=5.0, send_budget=0.5, request_timeout=1.0, wait=10.0)


@pytest.fixture
async def url(pg_url: str) -> str:
    await journal_migrate(pg_url)
    return pg_url


def jobs(url: str) -> list[tuple[str, str, dict[str, str]]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT task_name, status, args FROM procrastinate_jobs "
            "WHERE task_name = 'yzj_meeting.sync_tenant' ORDER BY id"
        ).fetchall()


async def test_migrate_twice_is_harmless(url: str) -> None:
    assert await journal_migrate(url) >= 1


async def test_enqueue_keeps_one_waiting_job_per_tenant(url: str, tmp_path: Path) -> None:
    schedule = write_schedule(tmp_path / "e1.json", "e1", 3)
    first = await enqueue(schedule, "e1", url)
    again = await enqueue(schedule, "e1", url)
    other = await enqueue(write_schedule(tmp_path / "e2.json", "e2", 3), "e2", url)
    assert first is not None
    assert other is not None
    assert again is None
    assert [(s, a["eid"]) for _, s, a in jobs(url)] == [("todo", "e1"), ("todo", "e2")]
    # A job carries the eid and where the schedule lives: nothing else.
    assert jobs(url)[0][2] == {"eid": "e1", "schedule": str(schedule.resolve())}


async def test_enqueue_refuses_bad_input_and_enqueues_nothing(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"key": "a"}]')
    with pytest.raises(ScheduleError):
        await enqueue(bad, "e1", url)
    with pytest.raises(ValidationError) as caught:
        await enqueue(bad, "e1", "mysql://x")
    assert caught.value.field == "database"
    assert jobs(url) == []


async def test_workers_run_the_jobs_and_status_reports(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None, seed=3, faults=Faults(drop_after=0.05))
    eids = [f"e{i}" for i in range(6)]
    schedules = {
        eid: write_schedule(tmp_path / f"{eid}.json", eid, 8, series_every=3) for eid in eids
    }
    for eid in eids:
        await enqueue(schedules[eid], eid, url)
    workers = [
        asyncio.create_task(
            run_worker(
                url,
                concurrency=3,
                lease=LEASE,
                client_factory=FakeFactory(service),
                resync_cron=None,
                install_signal_handlers=False,
                environ={f"YZJ_MEETING_SECRET_{e}": f"{SECRET}-{e}" for e in eids}
                | {"YZJ_MEETING_BASE_URL": "http://yzj-fake.invalid"},
            )
        )
        for _ in range(2)
    ]
    try:
        async with asyncio.timeout(60):
            while any(s != "succeeded" for _, s, _ in jobs(url)):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for eid in eids:
        expected = sorted(f"{eid} {'series' if i % 3 == 0 else 'meeting'} {i}" for i in range(8))
        assert live_titles(service, f"{eid} ") == expected
    report = await status(url)
    assert [t.eid for t in report] == eids
    assert all(t.last_outcome == "ok" and t.in_doubt == () for t in report)
    text = format_status(report)
    assert "e0: last run" in text
    assert SECRET not in database_text(url)


async def test_sync_foreground_on_the_shared_journal(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None)
    schedule = write_schedule(tmp_path / "e1.json", "e1", 5)
    result = await sync_foreground(
        schedule,
        "e1",
        url,
        client_factory=FakeFactory(service),
        lease=LEASE,
        environ={
            "YZJ_MEETING_SECRET_e1": SECRET,
            "YZJ_MEETING_BASE_URL": "http://yzj-fake.invalid",
        },
    )
    assert result.created == 5
    assert len(live_titles(service, "e1 ")) == 5


def test_tenants_type_is_exported() -> None:
    assert tenants("x").get("x").eid == "x"
    assert isinstance(tenants("x"), Tenants)


def test_redis_options_share_tokens_and_quota_through_redis() -> None:
    from yzj_meeting.redis import RedisRateLimiter, RedisTokenStore
    from yzj_meeting.workers.commands import _redis_options

    options = _redis_options("redis://127.0.0.1:1/0")  # nothing is connected before use
    assert isinstance(options["token_store"], RedisTokenStore)
    assert isinstance(options["rate_limiter"], RedisRateLimiter)
    assert _redis_options(None) == {}
    with pytest.raises(ValidationError) as caught:
        _redis_options("http://not-redis")
    assert caught.value.field == "redis"


def runs(url: str, eid: str) -> list[tuple[str, Any]]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT outcome, counts FROM yzj_runs WHERE eid = %s ORDER BY id", (eid,)
        )
        return [(outcome, counts) for outcome, counts in found]


async def work(
    url: str,
    service: FakeService,
    eid: str,
    until: int,
    *,
    concurrency: int = 2,
    wrap: Any = None,
    **options: Any,
) -> None:
    """One worker, until ``until`` sync jobs have succeeded and none is open."""
    worker = asyncio.create_task(
        run_worker(
            url,
            concurrency=concurrency,
            lease=LEASE,
            client_factory=FakeFactory(service, wrap=wrap),
            retry=RetryStrategy(max_attempts=3, wait=0.3),
            install_signal_handlers=False,
            environ={f"YZJ_MEETING_SECRET_{eid}": SECRET, "YZJ_MEETING_BASE_URL": FAKE_URL},
            **options,
        )
    )

    def done() -> bool:
        states = [s for _, s, _ in jobs(url)]
        return states.count("succeeded") >= until and not {"todo", "doing"} & set(states)

    try:
        async with asyncio.timeout(30):
            while not done():  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


def first_create_dropped() -> Faults:
    """The first create's answer is lost. A first run reads each of its days once (adopt
    before create) before its first create. (A service consumes its script: one per test.)"""
    return Faults(script=["ok"] * 3 + ["drop_after"])


async def test_a_failed_run_is_retried_with_backoff(url: str, tmp_path: Path) -> None:
    # The first create's answer is lost: the run ends "failed" (a key in doubt) and enqueues
    # the tenant again after the backoff (attempt 1), whose run resolves the key.
    service = FakeService(calls_per_minute=None, seed=5, faults=first_create_dropped())
    await enqueue(write_schedule(tmp_path / "r1.json", "r1", 3), "r1", url)
    await work(url, service, "r1", 2, resync_cron=None)
    assert [outcome for outcome, _ in runs(url, "r1")] == ["failed", "ok"]
    assert [a.get("attempt") for _, _, a in jobs(url)] == [None, 1]
    assert live_titles(service, "r1 ") == sorted(f"r1 meeting {i}" for i in range(3))
    assert sum(1 for call in service.calls if call.endpoint == "create") == 3


async def test_known_tenants_are_resynced_periodically(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None, seed=5)
    await enqueue(write_schedule(tmp_path / "p1.json", "p1", 3), "p1", url)
    await work(url, service, "p1", 3, resync_cron="* * * * * */1")  # every second
    found = runs(url, "p1")
    assert [outcome for outcome, _ in found][:3] == ["ok", "ok", "ok"]
    assert [counts["created"] for _, counts in found][:3] == [3, 0, 0]
    assert [counts["unchanged"] for _, counts in found][1:3] == [3, 3]


async def test_a_failed_run_leaves_the_work_to_a_waiting_job(url: str, tmp_path: Path) -> None:
    # Enqueued again while its job runs, then that run fails: the waiting job does the work
    # (procrastinate's retry would have hit the queueing lock and left the job "doing").
    service = FakeService(calls_per_minute=None, seed=5, faults=first_create_dropped())
    schedule = write_schedule(tmp_path / "w1.json", "w1", 3)
    await enqueue(schedule, "w1", url)

    class Late:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, request: Any) -> Any:
            if request.endpoint == "create" and len(jobs(url)) == 1:
                await enqueue(schedule, "w1", url)  # a second job waits meanwhile
            return await self.inner.send(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    worker = asyncio.create_task(
        run_worker(
            url,
            concurrency=2,
            lease=LEASE,
            client_factory=FakeFactory(service, wrap=Late),
            resync_cron=None,
            retry=RetryStrategy(max_attempts=3, wait=0.3),
            install_signal_handlers=False,
            environ={"YZJ_MEETING_SECRET_w1": SECRET, "YZJ_MEETING_BASE_URL": FAKE_URL},
        )
    )
    try:
        async with asyncio.timeout(30):
            while [s for _, s, _ in jobs(url)] != ["succeeded", "succeeded"]:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert [a.get("attempt") for _, _, a in jobs(url)] == [None, None]
    assert live_titles(service, "w1 ") == sorted(f"w1 meeting {i}" for i in range(3))


async def test_a_job_taken_back_while_it_runs_still_leaves_its_tenant_a_job(
    url: str, tmp_path: Path
) -> None:
    # A live worker's heartbeat looked stale (its database restarted, its host was slow):
    # another worker's recovery took its job back while it ran, then that run failed (a key in
    # doubt). The tenant must still get a run that resolves the key: taking the job back to
    # "todo" let the running worker, once done, mark that very job succeeded (procrastinate
    # finishes a "todo" job too) after its retry had found it waiting ("a waiting job takes
    # over"): nothing ran the tenant again, a meeting missing and its intent pending.
    service = FakeService(calls_per_minute=None, seed=5, faults=first_create_dropped())
    await enqueue(write_schedule(tmp_path / "s1.json", "s1", 3), "s1", url)
    recovered: list[int] = []

    class Recovery:
        """At the first create, the worker looks silent and another's recovery runs once."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, request: Any) -> Any:
            if request.endpoint == "create" and not recovered:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(
                        "UPDATE procrastinate_workers "
                        "SET last_heartbeat = now() - interval '20 seconds'"
                    )
                other = make_app(url, resync_cron=None)
                async with other.open_async():
                    await recover_stalled(other, after=10.0, every=0.0, rounds=1)
                recovered.append(len(jobs(url)))
            return await self.inner.send(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    # One job at a time: the worker cannot pick the job up again while it runs it.
    await work(url, service, "s1", 1, concurrency=1, wrap=Recovery, resync_cron=None)
    assert recovered
    assert [outcome for outcome, _ in runs(url, "s1")] == ["failed", "ok"]
    assert live_titles(service, "s1 ") == sorted(f"s1 meeting {i}" for i in range(3))
    with psycopg.connect(url) as conn:
        pending = conn.execute("SELECT key FROM yzj_journal WHERE pending IS NOT NULL")
        assert pending.fetchall() == []


async def test_recovery_never_ends_a_job_its_worker_put_back_in_the_queue(
    url: str, tmp_path: Path
) -> None:
    # Found silent (a stopping worker sends no more heartbeats), the job is put back to "todo"
    # by its own worker (aborted, to be retried) before the recovery ends it: the recovery must
    # leave it waiting (procrastinate's finish_job would end a "todo" job: the tenant's only one).
    await enqueue(write_schedule(tmp_path / "h1.json", "h1", 2), "h1", url)
    app = make_app(url, resync_cron=None)
    async with app.open_async():
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("UPDATE procrastinate_jobs SET status = 'doing'")
            (job,) = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=1.0)
            await conn.execute("UPDATE procrastinate_jobs SET status = 'todo'")  # its retry
        await _requeue(app, job)
    assert [status for _, status, _ in jobs(url)] == ["todo"]


def test_the_retry_backoff_grows_exponentially() -> None:
    assert [backoff(RETRY, n) for n in range(5)] == [3, 5, 9, 17, 33]
    assert backoff(RETRY, 10) == 2049
    assert backoff(RETRY, 11) is None  # the 12th attempt was the last
    assert backoff(RetryStrategy(max_attempts=3, wait=0.3), 0) == 0.3


async def test_a_worker_stops_even_when_its_recovery_loses_a_cancellation(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cancellation can be lost in a pool's connection wait (psycopg_pool hands a connection
    # to a task just as it is cancelled; psycopg issue #1345): cancelled once, the stalled-job
    # recovery went on, and its worker waited for it forever instead of stopping.
    from yzj_meeting.workers import commands

    rounds: list[str] = []

    async def recovery_losing_a_cancellation(app: Any, **_: Any) -> None:
        while True:
            try:
                await asyncio.sleep(0.2)
            except asyncio.CancelledError:
                if "lost" in rounds:
                    raise
                rounds.append("lost")

    monkeypatch.setattr(commands, "recover_stalled", recovery_losing_a_cancellation)
    worker = asyncio.create_task(
        run_worker(url, resync_cron=None, install_signal_handlers=False, environ={})
    )
    await asyncio.sleep(1.0)
    worker.cancel()
    stopped, _ = await asyncio.wait({worker}, timeout=10)
    assert stopped, "the worker waited for its recovery forever"
    assert rounds == ["lost"]


async def test_a_job_whose_end_was_not_recorded_is_handed_on_by_its_live_worker(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # procrastinate records a job's end after its task returns; when that fails (here: the
    # database went away at that moment) the job stayed "doing" with a live worker whose
    # heartbeats are fresh, which no stalled-job recovery takes, and its tenant lock held off
    # every later job of the tenant: "jobs did not drain". Its worker now hands it on.
    from procrastinate.exceptions import ConnectorException
    from procrastinate.manager import JobManager

    finish = JobManager.finish_job
    failed: list[int | None] = []

    async def finish_failing_once(self: JobManager, job: Any, *args: Any, **kw: Any) -> None:
        if not failed:
            failed.append(job.id)
            raise ConnectorException("the database went away")
        await finish(self, job, *args, **kw)

    monkeypatch.setattr(JobManager, "finish_job", finish_failing_once)
    service = FakeService(calls_per_minute=None, seed=5)
    await enqueue(write_schedule(tmp_path / "o1.json", "o1", 3), "o1", url)
    # Heartbeats every 0.5 s: the worker never looks silent to the stalled-job recovery.
    await work(url, service, "o1", 1, resync_cron=None, stalled_after=3.0, heartbeat=0.5)
    assert failed == [1]
    statuses = [s for _, s, _ in jobs(url)]
    assert statuses[:2] == ["failed", "succeeded"]  # ended, its tenant run again
    assert set(statuses[1:]) == {"succeeded"}
    assert {outcome for outcome, _ in runs(url, "o1")} == {"ok"}
    assert live_titles(service, "o1 ") == sorted(f"o1 meeting {i}" for i in range(3))


async def test_a_retry_refused_by_the_queueing_lock_does_not_block_the_tenant(
    url: str, tmp_path: Path
) -> None:
    # The run fails unexpectedly (procrastinate retries it) while a second job of the tenant
    # waits: the retry puts the job back under the queueing lock the waiting one holds, a
    # unique violation, and the job stayed "doing" for good, its tenant lock blocking the
    # waiting job. Its worker now ends it and the waiting job runs.
    service = FakeService(calls_per_minute=None, seed=5)
    schedule = write_schedule(tmp_path / "u1.json", "u1", 3)
    await enqueue(schedule, "u1", url)
    inner = FakeFactory(service)
    broken: list[bool] = []

    def factory(tenant: Any, gate: Any, timeout: Any) -> Any:
        if not broken:
            broken.append(True)
            waiting = threading.Thread(target=asyncio.run, args=(enqueue(schedule, "u1", url),))
            waiting.start()
            waiting.join()
            raise RuntimeError("no client today")
        return inner(tenant, gate, timeout)

    worker = asyncio.create_task(
        run_worker(
            url,
            concurrency=2,
            lease=LEASE,
            client_factory=factory,
            resync_cron=None,
            retry=RetryStrategy(max_attempts=3, wait=0.3),
            stalled_after=3.0,
            heartbeat=0.5,  # never silent: the stalled-job recovery leaves its jobs alone
            install_signal_handlers=False,
            environ={"YZJ_MEETING_SECRET_u1": SECRET, "YZJ_MEETING_BASE_URL": FAKE_URL},
        )
    )
    try:
        async with asyncio.timeout(30):
            while [s for _, s, _ in jobs(url)] != ["failed", "succeeded"]:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert live_titles(service, "u1 ") == sorted(f"u1 meeting {i}" for i in range(3))
