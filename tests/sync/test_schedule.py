"""Schedule files: JSON, JSONL, CSV; every problem reported at once with file, line, field."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from yzj_meeting.errors import ValidationError
from yzj_meeting.models import (
    SHANGHAI,
    CreateMeeting,
    MeetingType,
    NoticeTime,
    Repeat,
    RepeatMeeting,
)
from yzj_meeting.sync.schedule import (
    ScheduleError,
    fingerprint,
    load_schedule,
    parse_entry,
    parse_schedule,
)

from . import ALICE, BOB, CAROL, OWNER, entries, series, single


def problems_of(
    excinfo: pytest.ExceptionInfo[ScheduleError],
) -> list[tuple[int | None, str | None]]:
    return [(p.line, p.field) for p in excinfo.value.problems]


# --- the mapping to request models ---


def test_single_entry_maps_every_field_to_create_meeting() -> None:
    (entry,) = entries(
        single(
            "k1",
            content="agenda",
            room_id="room-1",
            important=True,
            type="voice",
            minutes_required=False,
            reminder=60,
        )
    )
    assert entry.key == "k1"
    assert not entry.is_series
    assert entry.model == CreateMeeting(
        openid=OWNER,
        title="Meeting k1",
        start_date=datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI),
        end_date=datetime(2026, 12, 1, 10, 30, tzinfo=SHANGHAI),
        content="agenda",
        meeting_place="Lotus Room 2F",
        room_id="room-1",
        notice_time=NoticeTime.HOUR_1,
        top_state=True,
        actors=(ALICE, BOB),
        type=MeetingType.VOICE,
        submit_experience=False,
    )
    assert entry.where == "test.json:1"


def test_series_entry_maps_to_repeat_meeting_until_the_end_of_that_day() -> None:
    (entry,) = entries(series("s1", repeat="biweekly"))
    assert entry.is_series
    assert isinstance(entry.model, RepeatMeeting)
    assert entry.model.repeat is Repeat.BIWEEKLY
    assert entry.model.repeat_end_date == datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    assert entry.attendees == (ALICE, CAROL)


def test_repeat_until_may_be_an_aware_datetime_and_none_is_a_single_meeting() -> None:
    s, n = entries(
        series("s", repeat="daily", repeat_until="2026-12-10T18:00:00+08:00"),
        single("n", repeat="none"),
    )
    assert isinstance(s.model, RepeatMeeting)
    assert s.model.repeat_end_date == datetime(2026, 12, 10, 18, tzinfo=SHANGHAI)
    assert isinstance(n.model, CreateMeeting)


def test_no_attendees_sends_none_and_duplicates_are_dropped() -> None:
    a, b = entries(single("a", attendees=[]), single("b", attendees=[ALICE, BOB, ALICE]))
    assert a.model.actors is None
    assert a.attendees == ()
    assert b.attendees == (ALICE, BOB)


def test_json_object_form_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"meetings": [single("a"), single("b", start="2026-12-01T09:30:00")]}, indent=2)
    )
    with pytest.raises(ScheduleError) as excinfo:
        load_schedule(path)
    text = path.read_text().splitlines()
    (problem,) = excinfo.value.problems
    assert problem.field == "start"
    assert problem.path == str(path)
    # The reported line is where the second meeting's object starts.
    assert problem.line is not None
    assert text[problem.line - 1].strip() == "{"
    assert '"key": "b"' in text[problem.line]
    assert "naive" in problem.message


# --- problems: every one at once ---


def test_every_problem_of_a_json_file_is_reported_at_once() -> None:
    records = [
        single("a", colour="blue"),  # 1: unknown field
        single("b", start="next tuesday"),  # 2: bad date
        single("c", start="2026-12-01T09:30:00"),  # 3: naive time
        single("d", end="2026-12-01T08:00:00+08:00"),  # 4: end before start
        single("a"),  # 5: duplicate key
        single("f", reminder=5),  # 6: bad enum
        single("g", type="video"),  # 7: bad enum
        series("h", repeat="yearly"),  # 8: bad enum
        single("i", title=None),  # 9: missing required field
        single("j", important="maybe"),  # 10: bad bool
    ]
    text = "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]"
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(text, "json", path="bad.json")
    assert problems_of(excinfo) == [
        (2, "colour"),
        (3, "start"),
        (4, "start"),
        (5, "end"),
        (6, "key"),
        (7, "reminder"),
        (8, "type"),
        (9, "repeat"),
        (10, "title"),
        (11, "important"),
    ]
    message = str(excinfo.value)
    assert message.startswith("10 problems in the schedule:")
    assert "bad.json:4: start: naive time" in message
    assert "bad.json:5: end: must be after start_date" in message
    assert "bad.json:6: key: duplicate key 'a' (first at line 2)" in message
    assert isinstance(excinfo.value, ValidationError)
    assert isinstance(excinfo.value, ValueError)


def test_series_rules() -> None:
    records = [
        series("a", repeat_until=None),
        single("b", repeat_until="2026-12-31"),
        series("c", place="Room 1", type="sign"),
        series("d", repeat_until="2026-11-01"),
        series("e", repeat_until="soon"),
    ]
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(json.dumps(records), "json")
    assert [p.field for p in excinfo.value.problems] == [
        "repeat_until",
        "repeat_until",
        "place",
        "type",
        "repeat_until",
        "repeat_until",
    ]


def test_model_errors_name_the_schedule_field() -> None:
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(json.dumps([single("a", attendees=[ALICE, ""])]), "json")
    assert excinfo.value.problems[0].field == "attendees"


def test_json_top_level_problems() -> None:
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule('{"meetings": [], "extra": 1}', "json", path="x.json")
    assert problems_of(excinfo) == [(1, "extra")]
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule('[1, "two"]', "json")
    assert [p.message for p in excinfo.value.problems] == [
        "a meeting must be an object, got a number",
        "a meeting must be an object, got a string",
    ]
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule('[\n{"key": "a",\n', "json", path="x.json")
    (problem,) = excinfo.value.problems
    assert problem.line == 3
    assert "not valid JSON" in problem.message


def test_jsonl_reports_lines_and_bad_json_lines() -> None:
    lines = [
        json.dumps(single("a")),
        "",
        "{not json",
        json.dumps(single("b", end="2026-12-01")),
        json.dumps(single("c", openid="")),
    ]
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule("\n".join(lines), "jsonl", path="s.jsonl")
    assert problems_of(excinfo) == [(3, None), (4, "end"), (5, "openid")]
    assert "s.jsonl:4: end: '2026-12-01' has no time of day" in str(excinfo.value)


def test_jsonl_valid(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    path.write_text(json.dumps(single("a")) + "\n\n" + json.dumps(series("b")) + "\n")
    a, b = load_schedule(path)
    assert (a.key, a.line, b.key, b.line) == ("a", 1, "b", 3)


CSV_HEADER = "key,openid,title,start,end,attendees,place,reminder,important,repeat,repeat_until"


def test_csv_valid(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "\ufeff"
        + CSV_HEADER
        + "\n"
        + f"a,{OWNER},Design review,2026-12-01T09:30:00+08:00,2026-12-01T10:00:00+08:00,"
        + f'{ALICE}; {BOB},"Room 1, 3F",15,yes,,\n'
        + "\n"
        + f"b,{OWNER},Stand-up,2026-12-07T09:00:00+08:00,2026-12-07T09:15:00+08:00,,,,0,"
        + "weekly,2026-12-28\n",
        encoding="utf-8",
    )
    a, b = load_schedule(path)
    assert a.model == CreateMeeting(
        openid=OWNER,
        title="Design review",
        start_date=datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI),
        end_date=datetime(2026, 12, 1, 10, tzinfo=SHANGHAI),
        meeting_place="Room 1, 3F",
        notice_time=NoticeTime.MINUTES_15,
        top_state=True,
        actors=(ALICE, BOB),
    )
    assert a.line == 2
    assert isinstance(b.model, RepeatMeeting)
    assert b.model.top_state is False
    assert b.line == 4


def test_csv_reports_every_problem_with_row_and_column() -> None:
    text = "\n".join(
        [
            "key,openid,title,start,colour,reminder",  # no end column, an unknown one
            f"a,{OWNER},One,2026-12-01T09:30:00+08:00,blue,15",
            f"b,{OWNER},,2026-12-01 09:30,red,30",
            f"a,{OWNER},Three,2026-12-01T09:30:00+08:00,,15,extra",
        ]
    )
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(text, "csv", path="s.csv")
    assert problems_of(excinfo) == [
        (1, "colour"),
        (1, "end"),
        (3, "title"),
        (3, "start"),
        (3, "reminder"),
        (4, None),
    ]
    assert "s.csv:1: colour: unknown column" in str(excinfo.value)
    assert "s.csv:1: end: required column is missing" in str(excinfo.value)


def test_csv_duplicate_key_and_empty_file() -> None:
    row = f"{OWNER},T,2026-12-01T09:30:00+08:00,2026-12-01T10:00:00+08:00"
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(f"key,openid,title,start,end\na,{row}\na,{row}\n", "csv")
    assert problems_of(excinfo) == [(3, "key")]
    with pytest.raises(ScheduleError):
        parse_schedule("", "csv")


def test_unknown_format_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="unknown format"):
        load_schedule(tmp_path / "s.xlsx")
    with pytest.raises(ScheduleError, match="cannot read"):
        load_schedule(tmp_path / "missing.json")
    (tmp_path / "s.txt").write_text(json.dumps([single("a")]))
    assert len(load_schedule(tmp_path / "s.txt", format="json")) == 1


def test_parse_entry_for_one_meeting() -> None:
    entry = parse_entry(single("x"))
    assert entry.where == "<arguments>"
    with pytest.raises(ScheduleError) as excinfo:
        parse_entry({"key": "x", "title": 3})
    assert [p.field for p in excinfo.value.problems] == ["openid", "title", "start", "end"]


# --- fingerprints ---


def test_fingerprint_is_stable_and_tracks_wire_content() -> None:
    base = entries(single("a"))[0]
    same_instant = entries(
        single("a", start="2026-12-01T01:30:00+00:00", end="2026-12-01T02:30:00Z")
    )[0]
    reordered = entries(single("a", attendees=[BOB, ALICE]))[0]
    other_key = entries(single("zzz", title="Meeting a"))[0]
    assert base.fingerprint == same_instant.fingerprint == reordered.fingerprint
    assert base.fingerprint == other_key.fingerprint  # the key is not sent
    for change in (
        {"title": "Other"},
        {"attendees": [ALICE]},
        {"place": None},
        {"reminder": 60},
        {"important": False},
        {"end": "2026-12-01T10:31:00+08:00"},
    ):
        assert entries(single("a", **change))[0].fingerprint != base.fingerprint, change
    assert fingerprint(base.model) == base.fingerprint
    assert base.fingerprint.startswith("v2:")  # versioned: see test_plan's legacy rows
    assert len(base.fingerprint) == 35


# --- iCalendar (the ics extra) ---

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//yzj-meeting tests//EN
BEGIN:VEVENT
UID:standup
SUMMARY:Stand-up
DTSTART;TZID=Asia/Shanghai:20261207T090000
DTEND;TZID=Asia/Shanghai:20261207T091500
RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231T155959Z
ORGANIZER;CN=Wang:urn:oid:{owner}
ATTENDEE;CN=Alice:urn:oid:{alice}
ATTENDEE:urn:oid:{bob}
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:review
SUMMARY:Design review
DESCRIPTION:Agenda in the doc
LOCATION:Lotus Room 2F
X-YZJ-ROOM-ID:room-7
X-YZJ-TYPE:sign
X-YZJ-IMPORTANT:TRUE
DTSTART:20261201T013000Z
DURATION:PT1H
ORGANIZER:urn:oid:{owner}
END:VEVENT
BEGIN:VEVENT
UID:dropped
SUMMARY:Called off
STATUS:CANCELLED
DTSTART:20261202T013000Z
DTEND:20261202T023000Z
ORGANIZER:urn:oid:{owner}
END:VEVENT
END:VCALENDAR
"""


def test_ics_events_map_to_meetings(tmp_path: Path) -> None:
    pytest.importorskip("icalendar")
    path = tmp_path / "s.ics"
    path.write_text(ICS.format(owner=OWNER, alice=ALICE, bob=BOB).replace("\n", "\r\n"))
    standup, review = load_schedule(path)
    assert (standup.key, standup.line, review.key, review.line) == ("standup", 4, "review", 18)
    assert standup.model == RepeatMeeting(
        openid=OWNER,
        title="Stand-up",
        start_date=datetime(2026, 12, 7, 9, tzinfo=SHANGHAI),
        end_date=datetime(2026, 12, 7, 9, 15, tzinfo=SHANGHAI),
        repeat=Repeat.BIWEEKLY,
        # the last occurrence (UNTIL is the 31st): exact, whatever the time of the UNTIL
        repeat_end_date=datetime(2026, 12, 21, 9, tzinfo=SHANGHAI),
        notice_time=NoticeTime.MINUTES_15,
        actors=(ALICE, BOB),
    )
    assert review.model == CreateMeeting(
        openid=OWNER,
        title="Design review",
        start_date=datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI),
        end_date=datetime(2026, 12, 1, 10, 30, tzinfo=SHANGHAI),
        content="Agenda in the doc",
        meeting_place="Lotus Room 2F",
        room_id="room-7",
        type=MeetingType.SIGN,
        top_state=True,
    )


def test_ics_problems_are_all_reported() -> None:
    pytest.importorskip("icalendar")
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\n"
        "BEGIN:VEVENT\nUID:a\nSUMMARY:Floating\nDTSTART:20261207T090000\n"
        "DTEND:20261207T100000\nORGANIZER:urn:oid:o1\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:b\nSUMMARY:Count\nDTSTART:20261207T010000Z\n"
        "DTEND:20261207T020000Z\nRRULE:FREQ=DAILY;COUNT=3\nORGANIZER:urn:oid:o1\n"
        "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VEVENT\n"
        "BEGIN:VEVENT\nSUMMARY:No uid\nDTSTART;VALUE=DATE:20261207\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:d\nSUMMARY:Yearly\nDTSTART:20261207T010000Z\n"
        "DTEND:20261207T020000Z\nRRULE:FREQ=YEARLY;UNTIL=20281231\nORGANIZER:urn:oid:o1\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    with pytest.raises(ScheduleError) as excinfo:
        parse_schedule(text, "ics", path="cal.ics")
    assert problems_of(excinfo) == [
        (4, "start"),
        (4, "end"),
        (11, "reminder"),  # (COUNT=3 daily is a daily series)
        (23, "start"),
        (23, "key"),
        (23, "openid"),
        (23, "end"),
        (27, "repeat"),  # expanded, it would run past 2 years
    ]
    assert "past 2 years" in str(excinfo.value)
    assert "cal.ics:4: start: DTSTART 20261207T090000 is a floating time" in str(excinfo.value)


def test_ics_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)
    with pytest.raises(ScheduleError, match=r"pip install 'yzj-meeting\[ics\]'"):
        parse_schedule("BEGIN:VCALENDAR\nEND:VCALENDAR\n", "ics")
    monkeypatch.undo()
    pytest.importorskip("icalendar")
    with pytest.raises(ScheduleError, match="not an iCalendar content line"):
        parse_schedule("this is not ical", "ics")
