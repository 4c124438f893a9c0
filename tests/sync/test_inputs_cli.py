"""Real-world inputs through the real CLI (issue #10), each case on two targets: the embedded
emulator, and ``--base-url`` (``YZJ_BASE_URL``) pointing at the emulator server running in a
process of its own, whose request log shows that a refused file sends nothing at all."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from yzj_meeting.cli import command

from .served import Served, served

pytest.importorskip("icalendar")

OWNER = "5f0c6a1b2c3d4e5f60718293"
ALICE = "5f0c6a1b2c3d4e5f60718294"
STATE = Path(".yzj-meeting")
JOURNAL = STATE / "journal.sqlite3"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("YZJ_EID", "YZJ_SECRET", "YZJ_BASE_URL", "YZJ_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["embedded", "server"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served | None]:
    """``None``: the embedded emulator; else the emulator server the CLI is pointed at."""
    if request.param == "embedded":
        yield None
        return
    with served(tmp_path / "server") as server:
        monkeypatch.setenv("YZJ_BASE_URL", server.url)
        monkeypatch.setenv("YZJ_EID", "inputs-eid")
        monkeypatch.setenv("YZJ_SECRET", "inputs-secret")
        yield server


def sent(target: Served | None) -> int:
    """How many requests the server received so far (0 for the embedded emulator)."""
    return len(target.requests()) if target is not None else 0


def assert_refused(result: Result, target: Served | None, before: int | None = None) -> None:
    """Exit 2, no traceback, nothing sent: no request at all reached the server since
    ``before`` requests; on a fresh embedded emulator (``before`` ``None``), not even a
    journal or an emulator state was written."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    if target is not None:
        assert target.requests()[before or 0 :] == []
    elif before is None:
        assert not STATE.exists()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(command(), list(args), catch_exceptions=False)


def day(when: str) -> list[dict[str, Any]]:
    result = invoke("day", when, "--json")
    assert result.exit_code == 0, result.output
    meetings: list[dict[str, Any]] = json.loads(result.stdout)["meetings"]
    return meetings


def live(when: str) -> list[dict[str, Any]]:
    return [m for m in day(when) if m["status"] != "cancelled"]


def calendar(path: Path, *events: str) -> Path:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
        + body
        + "END:VCALENDAR\r\n",
        newline="",
    )
    return path


def event(uid: str, start: str, end: str, *extra: str, title: str = "Weekly") -> str:
    lines = [
        f"UID:{uid}",
        f"SUMMARY:{title}",
        start,
        end,
        f"ORGANIZER:urn:oid:{OWNER}",
        *extra,
    ]
    return "\r\n".join(lines)


def test_an_exdate_day_has_no_live_meeting(tmp_path: Path, target: Served | None) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "weekly@google.com",
            "DTSTART;TZID=Asia/Shanghai:20261201T093000",
            "DTEND;TZID=Asia/Shanghai:20261201T100000",
            "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4",
            "EXDATE;TZID=Asia/Shanghai:20261215T093000",
        ),
    )
    dry = invoke("sync", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "weekly@google.com: series; then 1 excluded occurrence(s)" in dry.stdout
    assert "2026-12-15T09:30:00+08:00" in dry.stdout
    result = invoke("sync", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 1  # one series, then one cancel
    assert live("2026-12-15") == []
    (excluded,) = day("2026-12-15")
    assert excluded["status"] == "cancelled"
    for when in ("2026-12-01", "2026-12-08", "2026-12-22"):
        (meeting,) = live(when)
        assert meeting["start"].endswith("09:30:00+08:00")
    again = invoke("sync", str(path), "--json")
    assert json.loads(again.stdout)["unchanged"] == 1
    # An EXDATE added later inside the series: that occurrence is cancelled, nothing else sent.
    # (One on the last occurrence would end the series earlier: a batchModify.)
    calendar(
        path,
        event(
            "weekly@google.com",
            "DTSTART;TZID=Asia/Shanghai:20261201T093000",
            "DTEND;TZID=Asia/Shanghai:20261201T100000",
            "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4",
            "EXDATE;TZID=Asia/Shanghai:20261208T093000,20261215T093000",
        ),
    )
    before = sent(target)
    later = invoke("sync", str(path), "--json")
    assert json.loads(later.stdout)["modified"] == 1
    if target is not None:
        new = [r.rsplit("/", 1)[-1] for r in target.requests()[before:]]
        assert [r for r in new if not r.endswith("Token")] == ["queryByDay", "cancel"]
    assert live("2026-12-08") == []
    assert [len(live(d)) for d in ("2026-12-01", "2026-12-15", "2026-12-22")] == [1, 0, 1]


def test_a_new_york_series_across_dst_lands_at_the_right_instants(
    tmp_path: Path, target: Served | None
) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "ny",
            "DTSTART;TZID=America/New_York:20260302T090000",
            "DTEND;TZID=America/New_York:20260302T100000",
            "RRULE:FREQ=WEEKLY;COUNT=3",
        ),
    )
    assert invoke("sync", str(path)).exit_code == 0
    # 09:00 EST is 22:00 Shanghai; after 8 March, 09:00 EDT is 21:00 Shanghai.
    starts = [live(d)[0]["start"] for d in ("2026-03-02", "2026-03-09", "2026-03-16")]
    assert [datetime.fromisoformat(s).hour for s in starts] == [22, 21, 21]


def test_weekdays_in_a_new_york_evening_are_tuesday_to_saturday(
    tmp_path: Path, target: Served | None
) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "ny-evening",
            "DTSTART;TZID=America/New_York:20260601T200000",
            "DTEND;TZID=America/New_York:20260601T203000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10",
        ),
    )
    assert invoke("sync", str(path)).exit_code == 0
    days = [f"2026-06-{d:02d}" for d in range(1, 15)]
    held = [d for d in days if live(d)]
    weekdays = {datetime.fromisoformat(d).strftime("%a") for d in held}
    assert (len(held), weekdays) == (10, {"Tue", "Wed", "Thu", "Fri", "Sat"})


def test_mailto_people_need_the_people_map(tmp_path: Path, target: Served | None) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        "UID:m1\r\nSUMMARY:Mail\r\nDTSTART:20261201T010000Z\r\nDTEND:20261201T020000Z\r\n"
        "ORGANIZER;CN=Wang Wei:mailto:wang.wei@example.com\r\n"
        "ATTENDEE;CN=Li:mailto:li@example.com",
    )
    refused = invoke("sync", str(path))
    assert_refused(refused, target)
    assert "cal.ics:4: openid: wang.wei@example.com is an email address" in refused.stderr
    assert "attendees: item 1: li@example.com" in refused.stderr
    assert day("2026-12-01") == []
    people = tmp_path / "people.csv"
    people.write_text(f"email,oid\nwang.wei@example.com,{OWNER}\nLI@example.com,{ALICE}\n")
    done = invoke("sync", str(path), "--people", str(people))
    assert done.exit_code == 0, done.output
    (meeting,) = day("2026-12-01")
    assert meeting["openid"] == OWNER


def schedule(path: Path, count: int) -> Path:
    meetings = [
        {
            "key": f"k{i}",
            "openid": OWNER,
            "title": f"M{i}",
            "start": f"2026-12-01T{9 + i:02d}:00:00+08:00",
            "end": f"2026-12-01T{9 + i:02d}:30:00+08:00",
        }
        for i in range(count)
    ]
    path.write_text(json.dumps(meetings))
    return path


def test_a_prune_of_more_than_half_needs_yes(tmp_path: Path, target: Served | None) -> None:
    path = schedule(tmp_path / "s.json", 4)
    assert invoke("sync", str(path)).exit_code == 0
    schedule(path, 1)
    dry = invoke("sync", str(path), "--prune", "--dry-run")
    assert dry.exit_code == 0
    assert "--prune would cancel 3 of the 4 meetings" in dry.stderr
    before = sent(target)
    refused = invoke("sync", str(path), "--prune")
    assert_refused(refused, target, before)
    assert "--prune would cancel 3 of the 4 meetings the journal knows" in refused.stderr
    assert "--yes" in refused.stderr
    assert len(live("2026-12-01")) == 4
    done = invoke("sync", str(path), "--prune", "--yes", "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout)["cancelled"] == 3
    assert len(live("2026-12-01")) == 1


def test_a_prune_of_half_or_less_goes_ahead(tmp_path: Path, target: Served | None) -> None:
    path = schedule(tmp_path / "s.json", 4)
    assert invoke("sync", str(path)).exit_code == 0
    schedule(path, 2)
    done = invoke("sync", str(path), "--prune", "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout)["cancelled"] == 2
    assert len(live("2026-12-01")) == 2


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage pages\xff" * 512)


def _directory(path: Path) -> None:
    path.mkdir()


def _foreign_schema(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE entries (target TEXT, key TEXT)")
    db.commit()
    db.close()


def _bad_row_json(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE entries SET ids = '[not json'")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", [_garbage, _directory, _foreign_schema, _bad_row_json])
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_damaged_journal_is_one_line_and_exit_2(
    tmp_path: Path, damage: Any, dry_run: bool, target: Served | None
) -> None:
    path = schedule(tmp_path / "s.json", 2)
    if damage is _bad_row_json:
        assert invoke("sync", str(path)).exit_code == 0
    else:
        JOURNAL.parent.mkdir()
    damage(JOURNAL)
    before = len(day("2026-12-01"))
    requests = sent(target)
    schedule(path, 3)
    result = invoke("sync", str(path), *(["--dry-run"] if dry_run else []))
    assert_refused(result, target, requests)
    # One line (after the notice that the embedded emulator is in use).
    lines = [x for x in result.stderr.strip().splitlines() if "no credentials" not in x]
    assert len(lines) == 1, result.stderr
    assert f"the sync journal {JOURNAL} cannot be used" in lines[0]
    assert "move it aside" in lines[0]
    assert "Traceback" not in result.output
    assert len(day("2026-12-01")) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_schedule_exits_2_without_blocking(tmp_path: Path, target: Served | None) -> None:
    fifo = tmp_path / "s.json"
    os.mkfifo(fifo)
    result = invoke("sync", str(fifo))
    assert_refused(result, target)
    assert "s.json: is a FIFO" in result.stderr


def ics_event(*lines: str) -> str:
    """A one-event calendar (``UID``, ``SUMMARY``, ``ORGANIZER`` on lines 3-5), ``\\n`` ends."""
    body = "".join(f"{line}\n" for line in lines)
    return f"{ICS_HEAD}{body}END:VEVENT\nEND:VCALENDAR\n"


ICS_HEAD = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:x\nORGANIZER:urn:oid:o1\n"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("s.csv", "key,openid,title,start,end\nk,o,a\x00b,x,y\n", "s.csv:2: a control character"),
        ("s.json", '{"meetings": [], "meetings": []}', "s.json:1: meetings: appears twice"),
        ("s.json", "[" * 5000 + "]" * 5000, "nested more than 64 levels"),
        ("s.json", '[{"reminder": ' + "9" * 5000 + "}]", "a number of 5000 digits"),
        ("s.json", '[{"title": "\\ud800"}]', "lone surrogate"),
        (
            "s.ics",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:x\nSUMMARY:y\nEND:VEVENT\nEND:VCALENDAR\n",
            "s.ics:5: title: SUMMARY appears twice",
        ),
        (
            "s.ics",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:2026\nEND:VEVENT\nEND:VCALENDAR\n",
            "s.ics:4: start: DTSTART '2026' is not a date",
        ),
        (
            "s.json",
            '{"meetings": [{"key": "a"}], "meetings": [{"key": "b"}]}',
            "s.json:1: meetings: appears twice in the object starting on this line",
        ),
        ("s.json", '[{"title": "a\x1bb"}]', "s.json:1: a control character U+001B"),
        ("s.jsonl", '{"title": "\\u0000"}\n', "s.jsonl:1:"),
        (
            "s.ics",
            ics_event(
                "DTSTART:20261201T010000Z", "DTEND:20261201T020000Z", "RRULE:FREQ=WEEKLY;COUNT=x"
            ),
            "s.ics:2: repeat: RRULE FREQ=WEEKLY;COUNT=x is not valid",
        ),
        (
            "s.ics",
            ics_event("DTSTART:20261201T010000Z", "DURATION:PT1Q"),
            "s.ics:7: end: DURATION 'PT1Q' is not a duration",
        ),
        (
            "s.ics",
            ics_event("DTSTART:99991231T200000Z", "DTEND:99991231T210000Z"),
            "s.ics:6: start: DTSTART '99991231T200000Z' is past the year 9999 in Asia/Shanghai",
        ),
        (
            "s.ics",
            ics_event(
                "DTSTART;TZID=Mars/Olympus:20261201T010000",
                "DTEND;TZID=Mars/Olympus:20261201T020000",
            ),
            "s.ics:6: start: DTSTART has the unknown time zone TZID='Mars/Olympus'",
        ),
        (
            "s.ics",
            ics_event(
                "DTSTART:20261201T010000Z", "DTEND:20261201T020000Z", "DTEND:20261201T030000Z"
            ),
            "s.ics:8: end: DTEND appears twice",
        ),
    ],
)
def test_hostile_files_exit_2_with_file_line_field(
    tmp_path: Path, name: str, content: str, words: str, target: Served | None
) -> None:
    path = tmp_path / name
    path.write_text(content)
    for extra in ([], ["--dry-run"]):
        result = invoke("sync", name, *extra)
        assert_refused(result, target)
        assert words in result.stderr
        assert "nothing was sent" in result.stderr


def _directory_file(path: Path) -> None:
    path.mkdir()


def _device(path: Path) -> None:
    path.symlink_to("/dev/null")


def _zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_directory_file, "is a directory"),
        (_device, "is a character device"),
        (_zero, "is a character device"),
    ],
)
def test_what_is_not_a_regular_file_exits_2(
    tmp_path: Path, make: Any, words: str, target: Served | None
) -> None:
    make(tmp_path / "s.json")
    result = invoke("sync", "s.json")
    assert_refused(result, target)
    assert words in result.stderr


@pytest.mark.parametrize("url", ["http://", "http://127.0.0.1:notaport", "127.0.0.1:8080"])
def test_a_malformed_base_url_is_a_usage_error(
    tmp_path: Path, url: str, target: Served | None
) -> None:
    path = schedule(tmp_path / "s.json", 1)
    result = invoke("sync", str(path), "--eid", "e", "--secret", "x", "--base-url", url)
    assert_refused(result, target)
    assert "--base-url" in result.stderr


def test_rdate_adds_its_meeting(tmp_path: Path, target: Served | None) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "rdate",
            "DTSTART;TZID=Asia/Shanghai:20261201T093000",
            "DTEND;TZID=Asia/Shanghai:20261201T100000",
            "RRULE:FREQ=WEEKLY;COUNT=2",
            "RDATE;TZID=Asia/Shanghai:20261204T150000",
        ),
    )
    dry = invoke("sync", str(path), "--dry-run")
    assert "rdate: expanded: RDATE adds dates" in " ".join(dry.stdout.split())
    assert invoke("sync", str(path)).exit_code == 0
    (extra,) = live("2026-12-04")
    assert extra["start"] == "2026-12-04T15:00:00+08:00"
    assert [len(live(d)) for d in ("2026-12-01", "2026-12-08", "2026-12-15")] == [1, 1, 0]


def test_until_with_a_time_adds_no_occurrence_after_it(
    tmp_path: Path, target: Served | None
) -> None:
    # UNTIL 3 Dec 12:00 UTC is 20:00 in Shanghai: before that day's 22:30, which must not be held.
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "until",
            "DTSTART;TZID=Asia/Shanghai:20261201T223000",
            "DTEND;TZID=Asia/Shanghai:20261201T230000",
            "RRULE:FREQ=DAILY;UNTIL=20261203T120000Z",
        ),
    )
    assert invoke("sync", str(path)).exit_code == 0
    assert [len(live(d)) for d in ("2026-12-01", "2026-12-02", "2026-12-03")] == [1, 1, 0]


def test_two_summaries_never_become_a_list_title(tmp_path: Path, target: Served | None) -> None:
    path = calendar(
        tmp_path / "cal.ics",
        event(
            "two",
            "DTSTART:20261201T010000Z",
            "DTEND:20261201T020000Z",
            "SUMMARY:Second",
        ),
    )
    result = invoke("sync", str(path))
    assert_refused(result, target)
    assert "cal.ics:" in result.stderr
    assert "title: SUMMARY appears twice" in result.stderr
