"""Series expansion and Asia/Shanghai day arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yzj_meeting.fake.calendar import (
    SHANGHAI,
    SeriesTooLongError,
    expand,
    expand_ms,
    from_ms,
    shanghai_day_bounds,
    to_ms,
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[arg-type,misc]


def days_of(occurrences: list[tuple[datetime, datetime]]) -> list[date]:
    return [start.astimezone(SHANGHAI).date() for start, _ in occurrences]


def test_ms_round_trip_is_exact() -> None:
    for ms in (0, 1, 1530002768912, 1522729800000, -86_400_001, 4_102_444_800_123):
        assert to_ms(from_ms(ms)) == ms
    assert from_ms(1522729800000) == sh(2018, 4, 3, 12, 30)


def test_to_ms_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2024, 1, 1))


def test_day_bounds_are_shanghai_days() -> None:
    midnight = to_ms(sh(2024, 3, 1))
    assert shanghai_day_bounds(midnight) == (midnight, midnight + 86_400_000)
    assert shanghai_day_bounds(midnight + 86_399_999) == (midnight, midnight + 86_400_000)
    assert shanghai_day_bounds(midnight - 1) == (midnight - 86_400_000, midnight)
    # 16:00 UTC is already the next day in Shanghai
    utc_evening = to_ms(datetime(2024, 2, 29, 16, 0, tzinfo=UTC))
    assert shanghai_day_bounds(utc_evening)[0] == midnight


def test_no_repeat_is_just_the_parent() -> None:
    start = sh(2024, 3, 1, 10)
    assert expand(start, start + timedelta(hours=1), 0, sh(2024, 12, 31)) == [
        (start, start + timedelta(hours=1))
    ]


@pytest.mark.parametrize(
    ("repeat", "until", "expected"),
    [
        # 2024-03-01 is a Friday
        (1, date(2024, 3, 8), [1, 4, 5, 6, 7, 8]),
        (2, date(2024, 3, 5), [1, 2, 3, 4, 5]),
        (3, date(2024, 3, 22), [1, 8, 15, 22]),
        (3, date(2024, 3, 21), [1, 8, 15]),
        (4, date(2024, 3, 29), [1, 15, 29]),
    ],
)
def test_rules_within_a_month(repeat: int, until: date, expected: list[int]) -> None:
    start = sh(2024, 3, 1, 10, 30)
    # the end of the repetition may be earlier in the day than the meeting: the date decides
    occurrences = expand(start, start + timedelta(minutes=45), repeat, sh(*until.timetuple()[:3]))
    assert [d.day for d in days_of(occurrences)] == expected
    for begin, end in occurrences:
        assert (begin.hour, begin.minute) == (10, 30)
        assert end - begin == timedelta(minutes=45)


def test_monthly_skips_months_without_the_day() -> None:
    start = sh(2024, 1, 31, 9)
    occurrences = expand(start, start + timedelta(hours=1), 5, sh(2024, 8, 31, 8))
    assert days_of(occurrences) == [
        date(2024, 1, 31),
        date(2024, 3, 31),
        date(2024, 5, 31),
        date(2024, 7, 31),
        date(2024, 8, 31),
    ]


def test_monthly_crosses_the_year_and_skips_a_short_february() -> None:
    start = sh(2024, 11, 29, 9)
    occurrences = expand(start, start + timedelta(hours=1), 5, sh(2025, 3, 28))
    assert days_of(occurrences) == [date(2024, 11, 29), date(2024, 12, 29), date(2025, 1, 29)]


def test_workday_series_starting_on_saturday_keeps_the_parent() -> None:
    start = sh(2024, 3, 2, 10)  # a Saturday
    occurrences = expand(start, start + timedelta(hours=1), 1, sh(2024, 3, 5))
    assert days_of(occurrences) == [date(2024, 3, 2), date(2024, 3, 4), date(2024, 3, 5)]


def test_days_are_shanghai_days_whatever_the_zone_given() -> None:
    # 20:00 UTC on Friday is 04:00 on Saturday in Shanghai: workdays go on from Monday
    start = datetime(2024, 3, 1, 20, tzinfo=UTC)
    occurrences = expand(start, start + timedelta(hours=1), 1, sh(2024, 3, 4, 23))
    assert occurrences[0][0] == start
    assert days_of(occurrences) == [date(2024, 3, 2), date(2024, 3, 4)]
    assert occurrences[1][0] == sh(2024, 3, 4, 4)


def test_limit() -> None:
    start = sh(2024, 1, 1, 9)
    end = start + timedelta(hours=1)
    assert len(expand(start, end, 2, start + timedelta(days=999), limit=1000)) == 1000
    with pytest.raises(SeriesTooLongError):
        expand(start, end, 2, start + timedelta(days=1000), limit=1000)
    with pytest.raises(SeriesTooLongError):
        expand(start, end, 2, start + timedelta(days=365_000), limit=1000)


def test_bad_arguments() -> None:
    start = sh(2024, 1, 1, 9)
    with pytest.raises(ValueError, match="naive"):
        expand(datetime(2024, 1, 1), datetime(2024, 1, 2), 2, start)
    with pytest.raises(ValueError, match="repeat"):
        expand(start, start + timedelta(hours=1), 6, start + timedelta(days=3))


def brute_force_count(first: date, repeat: int, last: date) -> int:
    """Walk day by day and count the days the rule allows (the parent's day included)."""
    count = 1
    day = first + timedelta(days=1)
    while day <= last:
        offset = (day - first).days
        count += {
            0: False,
            1: day.weekday() < 5,
            2: True,
            3: offset % 7 == 0,
            4: offset % 14 == 0,
            5: day.day == first.day,
        }[repeat]
        day += timedelta(days=1)
    return count


zones = st.sampled_from(
    [SHANGHAI, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))]
)
starts = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)),
    zones,
)


@settings(deadline=None, max_examples=300)
@given(
    start=starts,
    minutes=st.integers(min_value=1, max_value=3 * 24 * 60),
    repeat=st.integers(min_value=0, max_value=5),
    span_days=st.integers(min_value=0, max_value=800),
    until_zone=zones,
)
def test_expansion_properties(
    start: datetime, minutes: int, repeat: int, span_days: int, until_zone: timezone
) -> None:
    end = start + timedelta(minutes=minutes)
    until = (start + timedelta(days=span_days)).astimezone(until_zone)
    occurrences = expand(start, end, repeat, until)

    assert occurrences[0] == (start, end)
    first = start.astimezone(SHANGHAI)
    last_day = until.astimezone(SHANGHAI).date()
    days = days_of(occurrences)
    assert days == sorted(set(days))
    assert len(occurrences) == brute_force_count(first.date(), repeat, last_day)
    for (begin, finish), day in zip(occurrences[1:], days[1:], strict=True):
        assert first.date() < day <= last_day
        assert begin.astimezone(SHANGHAI).timetz() == first.timetz()
        assert finish - begin == end - start
        if repeat == 1:
            assert day.weekday() < 5
        elif repeat in (3, 4):
            assert (day - first.date()).days % (7 if repeat == 3 else 14) == 0
        elif repeat == 5:
            assert day.day == first.day
    ms = [(to_ms(a), to_ms(b)) for a, b in occurrences]
    assert expand_ms(to_ms(start), to_ms(end), repeat, to_ms(until)) == ms
