"""Tests of yzj_meeting.sync; helpers shared by them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from yzj_meeting.auth import Credentials
from yzj_meeting.client import MeetingClient
from yzj_meeting.fake import FakeService, FakeTransport
from yzj_meeting.retry import RetryPolicy
from yzj_meeting.sync.schedule import Entry, parse_schedule

OWNER = "5f0c6a1b2c3d4e5f60718293"
ALICE = "5f0c6a1b2c3d4e5f60718294"
BOB = "5f0c6a1b2c3d4e5f60718295"
CAROL = "5f0c6a1b2c3d4e5f60718296"


def single(key: str, **fields: Any) -> dict[str, Any]:
    """A valid single-meeting record; ``fields`` override or add (``None`` removes)."""
    record: dict[str, Any] = {
        "key": key,
        "openid": OWNER,
        "title": f"Meeting {key}",
        "start": "2026-12-01T09:30:00+08:00",
        "end": "2026-12-01T10:30:00+08:00",
        "attendees": [ALICE, BOB],
        "place": "Lotus Room 2F",
        "reminder": 15,
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def series(key: str, **fields: Any) -> dict[str, Any]:
    """A valid weekly series record."""
    record: dict[str, Any] = {
        "key": key,
        "openid": OWNER,
        "title": f"Series {key}",
        "start": "2026-12-07T09:00:00+08:00",
        "end": "2026-12-07T09:15:00+08:00",
        "attendees": [ALICE, CAROL],
        "repeat": "weekly",
        "repeat_until": "2026-12-31",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def entries(*records: dict[str, Any]) -> list[Entry]:
    """The checked entries of ``records``."""
    return parse_schedule(json.dumps(list(records)), "json", path="test.json")


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def make_client(service: FakeService, **kwargs: Any) -> MeetingClient:
    """A client on ``service`` in process: no client-side rate limit, retries without sleep."""
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    kwargs.setdefault("transport", FakeTransport(service))
    return MeetingClient(
        credentials=Credentials(eid="test-eid", secret="test-secret"),
        base_url="http://yzj-fake.invalid",
        calls_per_minute=None,
        sleep=_no_sleep,
        **kwargs,
    )


def meeting_calls(service: FakeService) -> list[str]:
    """The endpoints of the meeting calls the service saw (token calls left out)."""
    return [c.endpoint for c in service.calls if not c.endpoint.endswith("Token")]
