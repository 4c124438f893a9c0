"""Series expansion on the Asia/Shanghai calendar (pure functions, no I/O).

China has kept no daylight saving time since 1991, so ``SHANGHAI`` (a fixed UTC+8 offset) is
the Asia/Shanghai calendar for every date the service deals with. Public holidays and the
adjusted working weekends (调休) are not modelled: "workday" means Monday to Friday. The
millisecond helpers are the fake's own rather than the SDK's ``_convert``: the fake is the
oracle the SDK is tested against, so it shares no wire code with it.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice

from ..models import SHANGHAI

__all__ = [
    "DAY_MS",
    "REPEAT_BIWEEKLY",
    "REPEAT_DAILY",
    "REPEAT_MONTHLY",
    "REPEAT_NONE",
    "REPEAT_RULES",
    "REPEAT_WEEKLY",
    "REPEAT_WORKDAY",
    "SHANGHAI",
    "SeriesTooLongError",
    "expand",
    "expand_ms",
    "from_ms",
    "shanghai_day",
    "shanghai_day_bounds",
    "to_ms",
]

REPEAT_NONE = 0
REPEAT_WORKDAY = 1
REPEAT_DAILY = 2
REPEAT_WEEKLY = 3
REPEAT_BIWEEKLY = 4
REPEAT_MONTHLY = 5
REPEAT_RULES = frozenset(range(6))

DAY_MS = 86_400_000
_OFFSET_MS = 8 * 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_STEP_DAYS = {REPEAT_WORKDAY: 1, REPEAT_DAILY: 1, REPEAT_WEEKLY: 7, REPEAT_BIWEEKLY: 14}


class SeriesTooLongError(ValueError):
    """The rule would produce more occurrences than the limit allows."""


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware datetime in Asia/Shanghai (exact, no float rounding)."""
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(SHANGHAI)


def to_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds (a sub-millisecond part is dropped)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the service's calendar needs an aware one")
    return (moment - _EPOCH) // _MS


def shanghai_day(ms: int) -> int:
    """The number of the Asia/Shanghai day holding the instant ``ms`` (0 is 1970-01-01)."""
    return (ms + _OFFSET_MS) // DAY_MS


def shanghai_day_bounds(ms: int) -> tuple[int, int]:
    """The Asia/Shanghai day holding ``ms`` as half-open epoch-ms bounds ``[start, end)``."""
    start = shanghai_day(ms) * DAY_MS - _OFFSET_MS
    return start, start + DAY_MS


def _later_days(first: date, repeat: int, last: date) -> Iterator[date]:
    """The days after ``first``, up to and including ``last``, on which the rule repeats."""
    if repeat in _STEP_DAYS:
        step = timedelta(days=_STEP_DAYS[repeat])
        day = first + step
        while day <= last:
            if repeat != REPEAT_WORKDAY or day.weekday() < 5:
                yield day
            day += step
    elif repeat == REPEAT_MONTHLY:
        year, month = first.year, first.month
        while True:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if date(year, month, 1) > last:
                return
            # A month without that day (the 31st in April, the 30th in February) is skipped.
            if first.day <= _calendar.monthrange(year, month)[1]:
                day = date(year, month, first.day)
                if day > last:
                    return
                yield day
    elif repeat != REPEAT_NONE:
        raise ValueError(f"repeat: unknown rule {repeat!r}")


def expand(
    start: datetime, end: datetime, repeat: int, repeat_end: datetime, limit: int = 1000
) -> list[tuple[datetime, datetime]]:
    """Every occurrence of a repeating meeting as ``(start, end)`` pairs in Asia/Shanghai.

    The first occurrence is always ``(start, end)`` itself (the parent), whatever the rule.
    Later ones follow ``repeat`` (0 none, 1 Monday–Friday, 2 daily, 3 weekly, 4 every two
    weeks, 5 monthly on the same day of the month, skipping months without that day), keep the
    parent's time of day and duration, and start on or before the Asia/Shanghai date of
    ``repeat_end``. More than ``limit`` occurrences raise :class:`SeriesTooLongError`.
    """
    if start.tzinfo is None or end.tzinfo is None or repeat_end.tzinfo is None:
        raise ValueError("naive datetime: the service's calendar needs aware ones")
    first = start.astimezone(SHANGHAI)
    duration = end - start
    later = _later_days(first.date(), repeat, repeat_end.astimezone(SHANGHAI).date())
    days = list(islice(later, limit))  # one more than the limit allows, at most
    if len(days) + 1 > limit:
        raise SeriesTooLongError(f"the series has more than {limit} occurrences")
    clock = first.timetz()
    occurrences = [(first, first + duration)]
    for day in days:
        begin = datetime.combine(day, clock)
        occurrences.append((begin, begin + duration))
    return occurrences


def expand_ms(
    start: int, end: int, repeat: int, repeat_end: int, limit: int = 1000
) -> list[tuple[int, int]]:
    """:func:`expand` on epoch milliseconds."""
    pairs = expand(from_ms(start), from_ms(end), repeat, from_ms(repeat_end), limit)
    return [(to_ms(a), to_ms(b)) for a, b in pairs]
