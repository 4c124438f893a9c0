"""The procrastinate side: enqueue (deduplicated), workers running jobs, status, no secrets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from yzj_meeting.errors import ValidationError
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.sync.schedule import ScheduleError
from yzj_meeting.workers import LeaseOptions, Tenants
from yzj_meeting.workers.commands import (
    enqueue,
    format_status,
    journal_migrate,
    run_worker,
    status,
    sync_foreground,
)

from .support import SECRET, FakeFactory, database_text, live_titles, tenants, write_schedule

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
