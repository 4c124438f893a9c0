"""VEVENTs to schedule entries: changed occurrences, exact durations, refusals with lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yzj_meeting.sync.schedule import Entry, ScheduleError, parse_schedule

pytest.importorskip("icalendar")


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\nORGANIZER:urn:oid:o1\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\n{body}END:VCALENDAR\n"


def read(text: str) -> list[Entry]:
    return parse_schedule(text, "ics", path="c.ics")


def refused(text: str) -> list[str]:
    with pytest.raises(ScheduleError) as excinfo:
        read(text)
    return [str(p) for p in excinfo.value.problems]


MASTER = """UID:s
SUMMARY:Weekly
DTSTART;TZID=Asia/Shanghai:20261207T100000
DTEND;TZID=Asia/Shanghai:20261207T110000
RRULE:FREQ=WEEKLY;COUNT=3"""


def test_without_overrides_a_weekly_event_is_one_series() -> None:
    (entry,) = read(ics(MASTER))
    assert entry.is_series
    assert entry.key == "s"


def test_a_moved_occurrence_is_its_own_meeting_and_leaves_the_series() -> None:
    moved = """UID:s
RECURRENCE-ID;TZID=Asia/Shanghai:20261214T100000
SUMMARY:Weekly (moved)
DTSTART;TZID=Asia/Shanghai:20261215T160000
DTEND;TZID=Asia/Shanghai:20261215T170000"""
    entries = read(ics(MASTER, moved))
    starts = {e.key: e.model.start_date.astimezone(UTC) for e in entries}
    assert starts == {
        "s": datetime(2026, 12, 7, 2, tzinfo=UTC),
        "s#20261214T020000Z": datetime(2026, 12, 15, 8, tzinfo=UTC),
    }
    series = next(e for e in entries if e.key == "s")
    assert series.is_series
    # The series keeps its rule; the moved occurrence is cancelled in it after it is created.
    assert series.excluded == (datetime(2026, 12, 14, 2, tzinfo=UTC),)


def test_a_cancelled_last_occurrence_ends_the_series_earlier() -> None:
    gone = """UID:s
RECURRENCE-ID;TZID=Asia/Shanghai:20261221T100000
SUMMARY:Weekly
STATUS:CANCELLED
DTSTART;TZID=Asia/Shanghai:20261221T100000
DTEND;TZID=Asia/Shanghai:20261221T110000"""
    (entry,) = read(ics(MASTER, gone))
    assert entry.is_series
    assert entry.model.repeat_end_date.astimezone(UTC) == datetime(  # type: ignore[union-attr]
        2026, 12, 14, 2, tzinfo=UTC
    )


def test_a_cancelled_middle_occurrence_has_no_meeting() -> None:
    gone = """UID:s
RECURRENCE-ID;TZID=Asia/Shanghai:20261214T100000
STATUS:CANCELLED
DTSTART;TZID=Asia/Shanghai:20261214T100000
DTEND;TZID=Asia/Shanghai:20261214T110000"""
    (entry,) = read(ics(MASTER, gone))
    assert entry.key == "s"
    assert entry.excluded == (datetime(2026, 12, 14, 2, tzinfo=UTC),)


def test_an_override_without_its_master_is_a_single_meeting() -> None:
    lone = """UID:s
RECURRENCE-ID:20261214T020000Z
SUMMARY:Only this one
DTSTART:20261215T080000Z
DTEND:20261215T090000Z"""
    (entry,) = read(ics(lone))
    assert entry.key == "s#20261214T020000Z"
    assert not entry.is_series


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (
            "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Asia/Shanghai:20261214T100000",
            "c.ics:14: repeat: RECURRENCE-ID;RANGE=THISANDFUTURE is not supported",
        ),
        ("RECURRENCE-ID:20261214T100000", "key: RECURRENCE-ID is a floating time"),
    ],
)
def test_overrides_that_cannot_be_held_are_refused(override: str, words: str) -> None:
    text = ics(
        MASTER,
        f"UID:s\n{override}\nSUMMARY:x\nDTSTART:20261215T080000Z\nDTEND:20261215T090000Z",
    )
    found = refused(text)
    assert any(words in p for p in found), found


def test_a_duration_in_hours_is_exact_across_a_dst_change() -> None:
    # 01:30 EST + 2 hours of real time is 04:30 EDT on the night the clocks go forward.
    (entry,) = read(
        ics("UID:d\nSUMMARY:Night\nDTSTART;TZID=America/New_York:20260308T013000\nDURATION:PT2H")
    )
    assert entry.model.end_date - entry.model.start_date == (
        datetime(2026, 3, 8, 8, 30, tzinfo=UTC) - datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    )
    assert entry.model.end_date.astimezone(UTC) == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)


def test_a_recurring_event_that_cannot_be_held_reports_only_the_recurrence() -> None:
    text = ics(MASTER.replace("COUNT=3", "INTERVAL=1"))
    assert refused(text) == [
        "c.ics:3: repeat_until: RRULE FREQ=WEEKLY;INTERVAL=1 has no end: a Yunzhijia series "
        "needs one (add UNTIL= or COUNT=)"
    ]
