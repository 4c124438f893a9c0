"""``yzj-meeting sync`` of a series with EXDATEs, killed (SIGKILL) between the create and the
cancels, then run again: the server (its own process) ends with the one series and every
excluded occurrence cancelled, nothing twice.

The CLI runs in a subprocess whose ``MeetingClient.call`` kills the process at a chosen step:
after ``repeatMeeting`` answered (before the journal knows: a create in doubt), once the
series is journaled (no cancel step begun), with the first cancel step journaled but not sent,
and after the first cancel answered (before the journal knows: a cancel step in doubt).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .served import Served, served

pytest.importorskip("icalendar")

OWNER = "5f0c6a1b2c3d4e5f60718293"
SH = ZoneInfo("Asia/Shanghai")

KILLER = """
import os, signal, sys
from yzj_meeting.client import MeetingClient
from yzj_meeting.models import CancelMeeting, RepeatMeeting

step = sys.argv[1]
original = MeetingClient.call

async def call(self, model, **kwargs):
    if isinstance(model, CancelMeeting) and step == "before-first-cancel":
        os.kill(os.getpid(), signal.SIGKILL)
    answer = await original(self, model, **kwargs)
    if isinstance(model, RepeatMeeting) and step == "after-create":
        os.kill(os.getpid(), signal.SIGKILL)
    if isinstance(model, CancelMeeting) and step == "after-first-cancel":
        os.kill(os.getpid(), signal.SIGKILL)
    return answer

MeetingClient.call = call

if step == "before-exclusions":
    import yzj_meeting.sync.apply as apply

    async def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    apply.cancel_excluded = killed
sys.argv = ["yzj-meeting", *sys.argv[2:]]
from yzj_meeting.cli import main
main()
"""

CALENDAR = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "UID:weekly@example.com",
        "SUMMARY:Weekly with holidays",
        f"ORGANIZER:urn:oid:{OWNER}",
        "DTSTART;TZID=Asia/Shanghai:20261201T093000",
        "DTEND;TZID=Asia/Shanghai:20261201T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6",
        "EXDATE;TZID=Asia/Shanghai:20261208T093000,20261222T093000",
        "EXDATE;TZID=Asia/Shanghai:20261229T093000",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)
WANTED = ["2026-12-01", "2026-12-15", "2027-01-05"]


def sync(tmp_path: Path, server: Served, step: str | None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    schedule = tmp_path / "cal.ics"
    schedule.write_text(CALENDAR, newline="")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YZJ_")},
        "YZJ_BASE_URL": server.url,
        "YZJ_EID": "e",
        "YZJ_SECRET": "s",
    }
    args = ["sync", str(schedule), "--json", "--state-dir", str(tmp_path / "state")]
    command = [sys.executable, str(script), step or "none", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def live_days(server: Served) -> list[str]:
    return sorted(
        datetime.fromtimestamp(m["start_date"] / 1000, SH).date().isoformat() for m in server.live()
    )


PENDING = {
    "after-create": "create",
    "before-exclusions": None,
    "before-first-cancel": "modify",
    "after-first-cancel": "modify",
}
"""What the journal holds for the key when the process is killed at each step."""


def pending(tmp_path: Path) -> str | None:
    with sqlite3.connect(tmp_path / "state" / "journal.sqlite3") as db:
        (found,) = db.execute("SELECT pending FROM entries").fetchall()
    db.close()
    value: str | None = found[0]
    return value


@pytest.mark.parametrize("step", sorted(PENDING))
def test_a_kill_between_the_create_and_the_cancels_converges(tmp_path: Path, step: str) -> None:
    with served(tmp_path / "server") as server:
        killed = sync(tmp_path, server, step)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert "repeatMeeting" in server.meeting_requests()
        assert pending(tmp_path) == PENDING[step]
        done = sync(tmp_path, server, None)
        assert done.returncode == 0, done.stderr
        assert live_days(server) == WANTED
        meetings = server.meetings()
        assert len(meetings) == 6  # one series of 6 occurrences: never a second one
        assert len({m["batch_id"] for m in meetings}) == 1
        assert server.meeting_requests().count("repeatMeeting") == 1
        assert "batchModify" not in server.meeting_requests()
        before = len(server.requests())
        again = sync(tmp_path, server, None)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["unchanged"] == 1
        assert [r for r in server.requests()[before:] if not r.endswith("Token")] == []
