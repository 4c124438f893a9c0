"""Helpers of the worker tests: schedules per tenant, clients on the emulator, secret scans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from yzj_meeting._http import Timeout
from yzj_meeting.auth import Credentials
from yzj_meeting.client import MeetingClient
from yzj_meeting.fake import FakeService, FakeTransport
from yzj_meeting.fake.service import STATUS_CANCELLED
from yzj_meeting.retry import RetryPolicy
from yzj_meeting.sync.fence import GatedTransport, SendGate
from yzj_meeting.workers import Tenant, Tenants

from ..sync import series, single

FAKE_URL = "http://yzj-fake.invalid"
SECRET = "s3cr3t-Never-Shown-7f1e"


def tenants(*eids: str) -> Tenants:
    return Tenants({eid: Tenant(eid, f"{SECRET}-{eid}", FAKE_URL) for eid in eids}, environ={})


def write_schedule(path: Path, eid: str, count: int, *, series_every: int = 0) -> Path:
    """A schedule of ``count`` meetings for ``eid`` (titles carry the eid); some weekly series."""
    records: list[dict[str, Any]] = []
    for i in range(count):
        day = 1 + i % 28
        if series_every and i % series_every == 0:
            records.append(
                series(
                    f"{eid}-k{i}",
                    title=f"{eid} series {i}",
                    start=f"2026-12-{day:02d}T08:00:00+08:00",
                    end=f"2026-12-{day:02d}T08:30:00+08:00",
                    repeat_until="2027-01-20",
                )
            )
        else:
            minute = i // 28
            records.append(
                single(
                    f"{eid}-k{i}",
                    title=f"{eid} meeting {i}",
                    start=f"2026-12-{day:02d}T10:{minute:02d}:00+08:00",
                    end=f"2026-12-{day:02d}T11:{minute:02d}:00+08:00",
                )
            )
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


class FakeFactory:
    """Clients on one in-process emulator, sending through the gate (every client counted)."""

    def __init__(self, service: FakeService, *, wrap: Any = None) -> None:
        self.service = service
        self.wrap = wrap
        self.gates: list[SendGate] = []

    def __call__(self, tenant: Tenant, gate: SendGate, timeout: Timeout) -> MeetingClient:
        self.gates.append(gate)
        inner: Any = FakeTransport(self.service)
        if self.wrap is not None:
            inner = self.wrap(inner)
        return MeetingClient(
            credentials=Credentials(eid=tenant.eid, secret=tenant.secret),
            base_url=tenant.base_url,
            transport=GatedTransport(inner, gate),
            timeout=timeout,
            calls_per_minute=None,
            retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0),
        )


def live_titles(service: FakeService, prefix: str) -> list[str]:
    """Titles of the live meetings (one per series) whose title starts with ``prefix``."""
    seen: dict[str, str] = {}
    for meeting in service.meetings.values():
        if meeting.status == STATUS_CANCELLED or not meeting.title.startswith(prefix):
            continue
        seen.setdefault(meeting.batch_id or meeting.id, meeting.title)
    return sorted(seen.values())


def database_text(url: str) -> str:
    """Every row of every table in the database, as text (to look for secrets)."""
    parts: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                parts.append(repr(row))
    return "\n".join(parts)
