"""``sync_tenant``: one tenant's sync on the shared journal, idempotent, fenced, secret-free."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest

from yzj_meeting._http import HttpRequest, HttpResponse
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.sync.pg_journal import FencedOut, migrate
from yzj_meeting.sync.schedule import ScheduleError
from yzj_meeting.workers import LeaseOptions, TenantError, sync_tenant
from yzj_meeting.workers.commands import status

from .support import SECRET, FakeFactory, database_text, live_titles, tenants, write_schedule

LEASE = LeaseOptions(ttl=5.0, send_budget=0.5, request_timeout=1.0, wait=10.0)


@pytest.fixture
async def url(pg_url: str) -> str:
    await migrate(pg_url)
    return pg_url


def expected_titles(path: Path) -> list[str]:
    import json

    return sorted(r["title"] for r in json.loads(path.read_text()))


async def test_syncs_then_is_idempotent_and_records_runs(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = FakeService(calls_per_minute=None)
    schedule = write_schedule(tmp_path / "e1.json", "e1", 12, series_every=5)
    factory = FakeFactory(service)
    first = await sync_tenant(
        "e1", schedule, db=url, tenants=tenants("e1"), client_factory=factory, lease=LEASE
    )
    assert (first.created, first.failed) == (12, 0)
    assert live_titles(service, "e1 ") == expected_titles(schedule)
    calls = len(service.calls)
    again = await sync_tenant(
        "e1", schedule, db=url, tenants=tenants("e1"), client_factory=factory, lease=LEASE
    )
    assert (again.unchanged, again.created) == (12, 0)
    assert len(service.calls) == calls  # nothing sent the second time
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT eid, fence, outcome FROM yzj_runs ORDER BY id").fetchall()
    assert runs == [("e1", 1, "ok"), ("e1", 2, "ok")]
    assert SECRET not in database_text(url)
    assert SECRET not in caplog.text


async def test_a_crashed_run_is_finished_by_the_next(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None, seed=7, faults=Faults(drop_after=0.4))
    schedule = write_schedule(tmp_path / "e1.json", "e1", 20, series_every=4)
    factory = FakeFactory(service)
    first = await sync_tenant(
        "e1", schedule, db=url, tenants=tenants("e1"), client_factory=factory, lease=LEASE
    )
    assert first.failed > 0  # some outcomes were lost: in doubt
    service.faults = Faults()
    second = await sync_tenant(
        "e1", schedule, db=url, tenants=tenants("e1"), client_factory=factory, lease=LEASE
    )
    assert second.ok
    assert live_titles(service, "e1 ") == expected_titles(schedule)  # none lost, none twice


async def test_a_worker_that_loses_its_lease_stops_sending(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None)
    schedule = write_schedule(tmp_path / "e1.json", "e1", 10)
    stolen_at: list[int] = []

    class Thief:
        """After the third meeting call, another worker takes the lease."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, request: HttpRequest) -> HttpResponse:
            answer: HttpResponse = await self.inner.send(request)
            meeting_calls = [c for c in service.calls if c.endpoint == "create"]
            if len(meeting_calls) == 3 and not stolen_at:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("UPDATE yzj_leases SET fence = fence + 1, owner = 'thief'")
                stolen_at.append(len(service.calls))
            return answer

        async def aclose(self) -> None:
            await self.inner.aclose()

    factory = FakeFactory(service, wrap=Thief)
    with pytest.raises(FencedOut):
        await sync_tenant(
            "e1",
            schedule,
            db=url,
            tenants=tenants("e1"),
            client_factory=factory,
            lease=LEASE,
            concurrency=1,
        )
    assert stolen_at
    assert len(service.calls) == stolen_at[0]  # not one call after the fence moved
    with psycopg.connect(url) as conn:
        (outcome,) = conn.execute("SELECT outcome FROM yzj_runs").fetchone() or (None,)
        pending = conn.execute("SELECT key FROM yzj_journal WHERE pending IS NOT NULL").fetchall()
    assert outcome == "fenced"
    assert len(pending) == 1  # the third create: sent, its outcome not recorded (in doubt)
    (report,) = await status(url)
    assert (report.eid, report.last_outcome, report.in_doubt) == ("e1", "fenced", pending[0])


async def test_bad_input_sends_nothing(url: str, tmp_path: Path) -> None:
    service = FakeService(calls_per_minute=None)
    factory = FakeFactory(service)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"key": "a"}]')
    with pytest.raises(ScheduleError):
        await sync_tenant("e1", bad, db=url, tenants=tenants("e1"), client_factory=factory)
    with pytest.raises(TenantError, match="'e9'") as caught:
        await sync_tenant("e9", bad, db=url, tenants=tenants("e1"), client_factory=factory)
    assert caught.value.field == "eid"
    assert service.calls == []
