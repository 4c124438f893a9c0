"""Recurring events: mapped to a Yunzhijia rule only when exact, else expanded, else refused.

The oracle is python-dateutil's occurrence set in the event's own zone; what the sync would
create is realised through the emulator's own series expansion (``yzj_meeting.fake.calendar``)
minus the cancelled exclusions, or the expanded singles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rruleset, rrulestr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from yzj_meeting.fake.calendar import expand
from yzj_meeting.models import Repeat
from yzj_meeting.sync.recurrence import (
    EXPAND_LIMIT,
    Expanded,
    RecurrenceError,
    Series,
    resolve,
)

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
ZONES = [
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Pacific/Auckland",
]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def created(result: Series | Expanded | None, start: datetime, end: datetime) -> set[tuple]:
    """The (start, end) instants of the live meetings the result leads to."""
    if result is None:
        return {(start.astimezone(UTC), end.astimezone(UTC))}
    if isinstance(result, Expanded):
        return set(result.occurrences)
    pairs = expand(result.start, result.end, int(result.repeat), result.repeat_end)
    live = {(a.astimezone(UTC), b.astimezone(UTC)) for a, b in pairs}
    cancelled = {p for p in live if p[0] in result.excluded}
    assert len(cancelled) == len(result.excluded), "each exclusion is one occurrence"
    return live - cancelled


def oracle(start: datetime, end: datetime, rule: str, exdates=(), rdates=()) -> set[tuple]:
    rs = rruleset()
    rs.rrule(rrulestr(rule, dtstart=start))
    for d in exdates:
        rs.exdate(d)
    for d in rdates:
        rs.rdate(d)
    duration = end.astimezone(UTC) - start.astimezone(UTC)
    return {(o.astimezone(UTC), o.astimezone(UTC) + duration) for o in rs}


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


# --- the normal export forms map to a rule ---


@pytest.mark.parametrize(
    ("rule", "repeat"),
    [
        ("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T000000Z", Repeat.WEEKLY),  # Google
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20270301T000000Z", Repeat.BIWEEKLY),  # Outlook
        ("FREQ=WEEKLY;COUNT=10", Repeat.WEEKLY),
        ("FREQ=DAILY;COUNT=10", Repeat.DAILY),
        ("FREQ=WEEKLY;WKST=SU;BYDAY=MO,TU,WE,TH,FR;COUNT=12", Repeat.WORKDAYS),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=12", Repeat.WORKDAYS),
        ("FREQ=MONTHLY;COUNT=6", Repeat.MONTHLY),
        ("FREQ=MONTHLY;BYMONTHDAY=1;COUNT=6", Repeat.MONTHLY),
    ],
)
def test_export_forms_map_to_a_rule(rule: str, repeat: Repeat) -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 30)  # a Tuesday
    result = resolve(start, end, rule)
    assert isinstance(result, Series)
    assert result.repeat is repeat
    assert created(result, start, end) == oracle(start, end, rule)


def test_count_sets_the_repeat_end_at_the_nth_occurrence() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    result = resolve(start, end, "FREQ=WEEKLY;BYDAY=TU;COUNT=4")
    assert isinstance(result, Series)
    assert result.repeat_end == at(SH, 2026, 12, 22, 9, 30).astimezone(UTC)


def test_until_with_a_time_adds_no_occurrence_after_it() -> None:
    # UNTIL is 09:00 Shanghai on the 22nd: the 09:30 meeting that day is past it.
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    rule = "FREQ=WEEKLY;UNTIL=20261222T010000Z"
    result = resolve(start, end, rule)
    assert isinstance(result, Series)
    starts = sorted(a for a, _ in created(result, start, end))
    assert starts[-1] == at(SH, 2026, 12, 15, 9, 30)
    assert created(result, start, end) == oracle(start, end, rule)


def test_until_as_a_date_is_that_whole_day_in_the_event_zone() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    result = resolve(start, end, "FREQ=WEEKLY;UNTIL=20261222")
    assert isinstance(result, Series)
    assert result.repeat_end == at(SH, 2026, 12, 22, 9, 30).astimezone(UTC)


def test_weekdays_in_new_york_evening_are_not_shanghai_workdays() -> None:
    start, end = at(NY, 2026, 6, 1, 20, 0), at(NY, 2026, 6, 1, 21, 0)  # Monday 20:00 EDT
    rule = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    result = resolve(start, end, rule)
    assert isinstance(result, Expanded)
    assert "other days in Asia/Shanghai" in result.reason
    days = sorted({a.astimezone(SH).strftime("%a") for a, _ in result.occurrences})
    assert days == ["Fri", "Sat", "Thu", "Tue", "Wed"]
    assert created(result, start, end) == oracle(start, end, rule)


def test_a_dst_crossing_series_is_expanded_at_the_right_instants() -> None:
    start, end = at(NY, 2026, 3, 2, 9, 0), at(NY, 2026, 3, 2, 10, 0)
    rule = "FREQ=WEEKLY;COUNT=4"
    result = resolve(start, end, rule)
    assert isinstance(result, Expanded)
    assert "daylight saving" in result.reason
    assert [a.astimezone(NY).hour for a, _ in result.occurrences] == [9, 9, 9, 9]
    assert [a.hour for a, _ in result.occurrences] == [14, 13, 13, 13]  # UTC: EST, then EDT


def test_exdate_on_a_mapped_series_is_cancelled_after_it() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    ex = [at(SH, 2026, 12, 15, 9, 30)]
    result = resolve(start, end, "FREQ=WEEKLY;COUNT=4", exdates=ex)
    assert isinstance(result, Series)
    assert result.excluded == (ex[0].astimezone(UTC),)
    assert created(result, start, end) == oracle(start, end, "FREQ=WEEKLY;COUNT=4", ex)


def test_exdate_on_the_first_occurrence_starts_the_series_later() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    result = resolve(start, end, "FREQ=DAILY;COUNT=3", exdates=[date(2026, 12, 1)])
    assert isinstance(result, Series)
    assert result.start == at(SH, 2026, 12, 2, 9, 30)
    assert result.excluded == ()


def test_rdate_is_expanded_with_the_extra_date() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    extra = at(SH, 2026, 12, 4, 15, 0)
    result = resolve(start, end, "FREQ=WEEKLY;COUNT=2", rdates=[extra])
    assert isinstance(result, Expanded)
    assert "RDATE" in result.reason
    assert extra.astimezone(UTC) in {a for a, _ in result.occurrences}
    assert created(result, start, end) == oracle(start, end, "FREQ=WEEKLY;COUNT=2", (), [extra])


def test_an_event_without_recurrence_is_left_alone() -> None:
    start, end = at(SH, 2026, 12, 1, 9, 30), at(SH, 2026, 12, 1, 10, 0)
    assert resolve(start, end) is None


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ("FREQ=WEEKLY", "repeat_until", "has no end"),
        ("FREQ=DAILY;COUNT=5000", "repeat", "more than 1000"),
        ("FREQ=MINUTELY;COUNT=5", "repeat", "every minute"),
        ("FREQ=FORTNIGHTLY;COUNT=5", "repeat", "FREQ must be"),
        ("FREQ=DAILY;COUNT=x", "repeat", "not valid"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=5", "repeat_until", "years past DTSTART"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20270101T000000Z", "repeat", "no occurrence"),
        ("FREQ=DAILY;UNTIL=2027", "repeat_until", "not a date"),
    ],
)
def test_what_cannot_be_held_is_refused(rule: str, field: str, words: str) -> None:
    start, end = at(NY, 2026, 3, 2, 9, 0), at(NY, 2026, 3, 2, 10, 0)
    with pytest.raises(RecurrenceError) as excinfo:
        resolve(start, end, rule)
    assert excinfo.value.field == field
    assert words in str(excinfo.value)


def test_an_expansion_past_the_count_is_refused_saying_why() -> None:
    start, end = at(NY, 2026, 3, 2, 9, 0), at(NY, 2026, 3, 2, 10, 0)
    with pytest.raises(RecurrenceError, match=f"more than {EXPAND_LIMIT}"):
        resolve(start, end, "FREQ=DAILY;COUNT=600")


def test_an_expansion_past_the_horizon_is_refused() -> None:
    start, end = at(NY, 2026, 3, 2, 9, 0), at(NY, 2026, 3, 2, 10, 0)
    with pytest.raises(RecurrenceError, match="past 2 years"):
        resolve(start, end, "FREQ=MONTHLY;COUNT=30")


def test_occurrences_past_year_9999_in_shanghai_are_refused() -> None:
    start = datetime(9999, 12, 29, 20, tzinfo=UTC)
    with pytest.raises(RecurrenceError, match="9999"):
        resolve(start, start + timedelta(hours=1), "FREQ=DAILY;COUNT=3")


# --- property: what would be created is exactly dateutil's set ---


@st.composite
def events(draw: st.DrawFn) -> tuple[datetime, datetime, str, list[datetime], list[datetime]]:
    zone = ZoneInfo(draw(st.sampled_from([*ZONES, *["Asia/Shanghai"] * 4])))  # series often
    day = draw(st.dates(date(2025, 1, 1), date(2028, 12, 31)))
    hour = draw(st.integers(0, 23))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    end = start + timedelta(minutes=draw(st.integers(15, 180)))
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}"]
    interval = draw(st.sampled_from([1, 1, 2, 3]))
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    own = DAYS[start.weekday()]
    byday = draw(
        st.one_of(
            st.none(),
            st.just([own]),
            st.just(DAYS[:5]),
            st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True),
        )
    )
    if byday and freq != "MONTHLY":
        parts.append("BYDAY=" + ",".join(byday))
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 30))}")
    else:
        until = start.astimezone(UTC) + timedelta(
            days=draw(st.integers(0, 200)), minutes=draw(st.integers(-720, 720))
        )
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    rule = ";".join(parts)
    occurrences = list(rrulestr(rule, dtstart=start))
    exdates = draw(st.lists(st.sampled_from(occurrences), max_size=3)) if occurrences else []
    if draw(st.booleans()):
        exdates.append(start + timedelta(days=draw(st.integers(1, 60)), minutes=7))  # no match
    rdates = draw(
        st.just([])
        | st.lists(
            st.builds(
                lambda d, h: start + timedelta(days=d, hours=h),
                st.integers(0, 90),
                st.integers(-12, 12),
            ),
            max_size=2,
        )
    )
    return start, end, rule, exdates, rdates


@settings(max_examples=400, deadline=None)
@given(events())
def test_created_meetings_are_exactly_dateutils_occurrences(
    event: tuple[datetime, datetime, str, list[datetime], list[datetime]],
) -> None:
    start, end, rule, exdates, rdates = event
    expected = oracle(start, end, rule, exdates, rdates)
    try:
        result = resolve(start, end, rule, exdates, rdates)
    except RecurrenceError as exc:
        assume(False)  # only a rule with no occurrence at all is refused at these sizes
        raise AssertionError(exc) from None  # pragma: no cover
    assert created(result, start, end) == expected


@settings(max_examples=200, deadline=None)
@given(events())
def test_only_an_empty_or_too_long_rule_is_refused_at_these_sizes(
    event: tuple[datetime, datetime, str, list[datetime], list[datetime]],
) -> None:
    start, end, rule, exdates, rdates = event
    try:
        resolve(start, end, rule, exdates, rdates)
        return
    except RecurrenceError as exc:
        message = str(exc)
    starts = sorted(a for a, _ in oracle(start, end, rule, exdates, rdates))
    empty = list(rrulestr(rule, dtstart=start)) == []
    too_long = "past 2 years" in message and starts[-1] >= starts[0] + timedelta(days=730)
    assert empty or too_long, message


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["Asia/Shanghai", "Asia/Chongqing", "Asia/Hong_Kong", "Asia/Taipei"]),
    st.sampled_from(["DAILY", "WEEKLY", "BIWEEKLY", "MONTHLY", "WORKDAYS"]),
    st.dates(date(2025, 1, 1), date(2030, 12, 31)),
    st.integers(2, 40),
)
def test_rules_in_a_utc8_zone_always_map(zone: str, kind: str, day: date, count: int) -> None:
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo(zone))
    end = start + timedelta(hours=1)
    rule = {
        "DAILY": "FREQ=DAILY",
        "WEEKLY": f"FREQ=WEEKLY;BYDAY={DAYS[day.weekday()]}",
        "BIWEEKLY": f"FREQ=WEEKLY;INTERVAL=2;BYDAY={DAYS[day.weekday()]}",
        "MONTHLY": "FREQ=MONTHLY",
        "WORKDAYS": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    }[kind] + f";COUNT={count}"
    assume(kind != "WORKDAYS" or day.weekday() < 5)
    result = resolve(start, end, rule)
    assert isinstance(result, Series), result
    assert created(result, start, end) == oracle(start, end, rule)


# --- property, through the ICS reader: the entries' meetings are dateutil's set ---


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%dT%H%M%S")


@settings(max_examples=150, deadline=None)
@given(events())
def test_ics_entries_hold_exactly_dateutils_occurrences(
    event: tuple[datetime, datetime, str, list[datetime], list[datetime]],
) -> None:
    from yzj_meeting.sync.schedule import ScheduleError, parse_schedule

    start, end, rule, exdates, rdates = event
    zone = start.tzinfo
    assert isinstance(zone, ZoneInfo)
    tzid = f"TZID={zone.key}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "UID:prop",
        "SUMMARY:Property",
        "ORGANIZER:urn:oid:o1",
        f"DTSTART;{tzid}:{_local(start, zone)}",
        f"DTEND;{tzid}:{_local(end, zone)}",
        f"RRULE:{rule}",
    ]
    if exdates:
        lines.append(f"EXDATE;{tzid}:" + ",".join(_local(d, zone) for d in exdates))
    if rdates:
        lines.append(f"RDATE;{tzid}:" + ",".join(_local(d, zone) for d in rdates))
    text = "\r\n".join([*lines, "END:VEVENT", "END:VCALENDAR", ""])
    # The oracle from what the file says (local times, as written, in the zone).
    written = [
        datetime.strptime(_local(d, zone), "%Y%m%dT%H%M%S").replace(tzinfo=zone)
        for d in (*exdates, *rdates)
    ]
    expected = oracle(start, end, rule, written[: len(exdates)], written[len(exdates) :])
    try:
        entries = parse_schedule(text, "ics", path="p.ics")
    except ScheduleError as exc:
        message = str(exc)
        starts = sorted(a for a, _ in expected)
        empty = list(rrulestr(rule, dtstart=start)) == []
        long = bool(starts) and starts[-1] >= starts[0] + timedelta(days=730)
        assert empty or long, message
        return
    got: set[tuple[datetime, datetime]] = set()
    for entry in entries:
        model = entry.model
        if entry.is_series:
            pairs = expand(
                model.start_date,
                model.end_date,
                int(model.repeat),  # type: ignore[union-attr]
                model.repeat_end_date,
            )  # type: ignore[union-attr]
        else:
            pairs = [(model.start_date, model.end_date)]
        # A series' excluded occurrences are cancelled after it is created.
        got |= {(a.astimezone(UTC), b.astimezone(UTC)) for a, b in pairs if a not in entry.excluded}
    assert got == expected
    assert len({e.key for e in entries}) == len(entries)
