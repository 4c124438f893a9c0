"""Recurring calendar events as Yunzhijia series or single meetings (pure, no I/O).

An iCalendar event repeats in its own zone (``DTSTART;TZID=America/New_York``); a Yunzhijia
series repeats on the Asia/Shanghai calendar, keeping the first occurrence's Shanghai time of day
and going on to the Shanghai day of its repeat end. :func:`resolve` computes the event's
occurrences with python-dateutil (``RRULE``, ``RDATE`` and ``EXDATE`` in the event's zone) and:

- maps them to a Yunzhijia rule (:class:`Series`) only when the rule's occurrences in
  Asia/Shanghai are *identical* to the event's between its first and last occurrence; the
  ``EXDATE``-excluded occurrences inside that span are listed to be cancelled after the series
  is created;
- otherwise expands them into single meetings (:class:`Expanded`, with the reason), at most
  :data:`EXPAND_LIMIT` of them within :data:`EXPAND_YEARS` years of the first;
- refuses (:class:`RecurrenceError`) what neither can hold: a rule without an end, a series of
  more than :data:`SERIES_LIMIT` occurrences or running past :data:`SERIES_YEARS` years, an
  expansion beyond the horizon, a rule that repeats every second or minute.

Needs python-dateutil (the ``ics`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any

import attrs

from ..models import SHANGHAI, Repeat

__all__ = [
    "EXPAND_LIMIT",
    "EXPAND_YEARS",
    "SERIES_LIMIT",
    "SERIES_YEARS",
    "Expanded",
    "RecurrenceError",
    "Series",
    "expand_series",
    "resolve",
    "series_occurrences",
]

EXPAND_LIMIT = 500
"""Most single meetings one event may expand into."""
EXPAND_YEARS = 2
"""An expanded event's occurrences must all start within this many years of its first."""
SERIES_LIMIT = 1000
"""Most occurrences a mapped series may have (the emulator's limit for ``repeatMeeting``)."""
SERIES_YEARS = 10
"""A rule's occurrences are looked for this many years past DTSTART at most."""

_RULES = (Repeat.DAILY, Repeat.WORKDAYS, Repeat.WEEKLY, Repeat.BIWEEKLY, Repeat.MONTHLY)
_STEP = {Repeat.DAILY: 1, Repeat.WORKDAYS: 1, Repeat.WEEKLY: 7, Repeat.BIWEEKLY: 14}
_UNTIL = re.compile(r"(?i)(?<![A-Z-])UNTIL=([0-9TZ]+)")


class RecurrenceError(ValueError):
    """The event's recurrence cannot be held exactly; ``field`` names the schedule field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@attrs.frozen
class Series:
    """A Yunzhijia series: ``repeat`` from ``start``-``end`` until ``repeat_end`` (an instant on
    the Shanghai day of the last occurrence), then cancel the occurrences starting at
    ``excluded`` (EXDATE). ``start``, ``end``, ``repeat_end`` and ``excluded`` are in UTC."""

    repeat: Repeat
    start: datetime
    end: datetime
    repeat_end: datetime
    excluded: tuple[datetime, ...] = ()


@attrs.frozen
class Expanded:
    """Single meetings, one per occurrence (``(start, end)`` in UTC), and why no rule fit."""

    occurrences: tuple[tuple[datetime, datetime], ...]
    reason: str


def resolve(
    start: datetime,
    end: datetime,
    rrule: str | None = None,
    exdates: Iterable[date | datetime] = (),
    rdates: Iterable[date | datetime] = (),
    *,
    zone_name: str | None = None,
) -> Series | Expanded | None:
    """What to create for an event: ``None`` (one meeting as it is), a series, or singles.

    ``start``/``end`` are aware (in the event's zone: a ``zoneinfo.ZoneInfo`` or UTC);
    ``rrule`` is the RRULE value (``FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T155959Z``); a bare date
    in ``exdates`` excludes the occurrences of that day in the event's zone, a bare date in
    ``rdates`` adds one at DTSTART's time of day. ``zone_name`` (the TZID) names the zone in
    the reason. Raises :class:`RecurrenceError`.
    """
    if start.utcoffset() is None or end.utcoffset() is None:
        raise RecurrenceError("start", "a recurring event needs a TZID or UTC times")
    exdates, rdates = list(exdates), list(rdates)
    if rrule is None and not rdates:
        return None
    try:
        return _resolve(start, end, rrule, exdates, rdates, zone_name)
    except (OverflowError, ArithmeticError):
        raise RecurrenceError(
            "repeat", "the occurrences run past the year 9999 (in Asia/Shanghai)"
        ) from None


def _resolve(
    start: datetime,
    end: datetime,
    rrule: str | None,
    exdates: list[date | datetime],
    rdates: list[date | datetime],
    zone_name: str | None,
) -> Series | Expanded:
    duration = end.astimezone(UTC) - start.astimezone(UTC)
    rule = _rule(rrule, start) if rrule is not None else None
    window = start.astimezone(UTC) + timedelta(days=366 * SERIES_YEARS)
    full = _occurrences(start, rule, exdates, rdates, window)
    if not full:
        return Expanded((), "expanded: every occurrence is excluded (EXDATE)")
    if rule is not None and not rdates:
        series = _as_series(rule, full, duration, window)
        if series is not None:
            return series
    return _expand(start, full, duration, _reason(start, rule, full, rdates, zone_name))


def _rule(text: str, start: datetime) -> Any:
    from dateutil.rrule import rrule, rrulestr

    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    freq = re.search(r"(?i)(?<![A-Z-])FREQ=([A-Z]*)", body)
    name = freq.group(1).upper() if freq else ""
    if name in ("SECONDLY", "MINUTELY"):
        raise RecurrenceError("repeat", f"RRULE {text}: a meeting cannot repeat every minute")
    if name not in ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise RecurrenceError(
            "repeat", f"RRULE {text}: FREQ must be DAILY, WEEKLY, MONTHLY, YEARLY or HOURLY"
        )
    if not re.search(r"(?i)(?<![A-Z-])(UNTIL|COUNT)=", body):
        raise RecurrenceError(
            "repeat_until",
            f"RRULE {text} has no end: a Yunzhijia series needs one (add UNTIL= or COUNT=)",
        )
    body = _UNTIL.sub(lambda m: "UNTIL=" + _until_utc(m.group(1), start), body)
    try:
        rule = rrulestr(body, dtstart=start)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise RecurrenceError("repeat", f"RRULE {text} is not valid: {exc}") from None
    if not isinstance(rule, rrule):
        raise RecurrenceError("repeat", f"RRULE {text} is not one rule")
    return rule


def _until_utc(value: str, start: datetime) -> str:
    """UNTIL as UTC text; a date is the end of that day and a floating time is in DTSTART's zone
    (what the exports that write them mean), as dateutil takes only UTC with an aware DTSTART."""
    if value.upper().endswith("Z"):
        return value
    try:
        if len(value) == 8:
            day = date(int(value[:4]), int(value[4:6]), int(value[6:]))
            moment = datetime.combine(day, time(23, 59, 59), start.tzinfo)
        else:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=start.tzinfo)
    except ValueError:
        raise RecurrenceError("repeat_until", f"UNTIL={value} is not a date or time") from None
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _occurrences(
    start: datetime,
    rule: Any,
    exdates: list[date | datetime],
    rdates: list[date | datetime],
    window: datetime,
) -> list[datetime]:
    """The event's occurrence starts in UTC, sorted; refused beyond the series limits."""
    if rule is not None:
        # At most SERIES_LIMIT of them, plus one more for each EXDATE that may remove one.
        cap = SERIES_LIMIT + len(exdates) + 1
        found = [_utc(o) for o in islice(_bounded(rule, window), cap)]
        if len(found) == cap:
            raise RecurrenceError(
                "repeat", f"the rule has more than {SERIES_LIMIT} occurrences: end it earlier"
            )
        if not found:
            raise RecurrenceError(
                "repeat", f"the rule has no occurrence within {SERIES_YEARS} years"
            )
        if _past(rule, window):
            raise RecurrenceError(
                "repeat_until",
                f"the rule runs more than {SERIES_YEARS} years past DTSTART: end it earlier",
            )
    else:
        found = [_utc(start)]
    zone = start.tzinfo
    found.extend(_utc(_at(d, start)) for d in rdates)
    days = {d for d in exdates if not isinstance(d, datetime)}
    instants = {_utc(d) for d in exdates if isinstance(d, datetime)}

    def kept(moment: datetime) -> bool:
        return moment not in instants and moment.astimezone(zone).date() not in days

    return sorted({o for o in found if kept(o)})


def _bounded(rule: Any, window: datetime) -> Iterator[datetime]:
    """The rule's occurrences up to ``window`` (dateutil scans to year 9999 for a rule that
    matches nothing, so its search stops at the window)."""
    count = getattr(rule, "_count", None)
    limited = rule.replace(until=window, count=None) if count else rule
    if not count and rule._until is not None and rule._until > window:
        limited = rule.replace(until=window)
    return iter(limited) if count is None else islice(limited, count)


def _past(rule: Any, window: datetime) -> bool:
    """Whether the rule was cut at the window (its real end lies beyond)."""
    count = getattr(rule, "_count", None)
    if count:
        return sum(1 for _ in islice(_bounded(rule, window), count)) < int(count)
    return bool(rule._until is not None and rule._until > window)


def _at(value: date | datetime, start: datetime) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            return value.replace(tzinfo=start.tzinfo)
        return value
    return datetime.combine(value, start.timetz().replace(tzinfo=None), start.tzinfo)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _as_series(
    rule: Any, full: list[datetime], duration: timedelta, window: datetime
) -> Series | None:
    """The Yunzhijia rule whose Shanghai occurrences between the first and last kept
    occurrence are exactly the RRULE's there, if any; the gaps left by EXDATE are excluded."""
    first, last = full[0], full[-1]
    if len(full) < 2:
        return None
    base = [
        o
        for o in (_utc(x) for x in islice(_bounded(rule, window), SERIES_LIMIT * 2))
        if first <= o <= last
    ]
    for repeat in _RULES:
        if series_occurrences(first, repeat, last, len(base) + 1) == base:
            excluded = tuple(sorted(set(base) - set(full)))
            return Series(repeat, first, first + duration, last, excluded)
    return None


def series_occurrences(
    first: datetime, repeat: Repeat, repeat_end: datetime, limit: int = SERIES_LIMIT
) -> list[datetime]:
    """The starts (UTC) of a Yunzhijia series on the Asia/Shanghai calendar, at most ``limit``:
    the first, then the Shanghai days after it that ``repeat`` picks, up to the Shanghai day of
    ``repeat_end``, each at the first's Shanghai time of day."""
    local = first.astimezone(SHANGHAI)
    last = repeat_end.astimezone(SHANGHAI).date()
    out = [_utc(local)]
    for day in islice(_days(local.date(), repeat, last), limit - 1):
        out.append(_utc(datetime.combine(day, local.timetz())))
    return out


def _days(first: date, repeat: Repeat, last: date) -> Iterator[date]:
    if repeat in _STEP:
        step = timedelta(days=_STEP[repeat])
        day = first + step
        while day <= last:
            if repeat is not Repeat.WORKDAYS or day.weekday() < 5:
                yield day
            day += step
    elif repeat is Repeat.MONTHLY:
        year, month = first.year, first.month
        while True:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            try:
                day = date(year, month, first.day)
            except ValueError:
                if date(year, month, 1) > last:
                    return
                continue  # no such day in that month: the month is skipped
            if day > last:
                return
            yield day


def expand_series(series: Series, reason: str) -> Expanded:
    """A series as single meetings (its occurrences minus the excluded ones), within the
    expansion limits (else :class:`RecurrenceError`)."""
    duration = series.end - series.start
    starts = series_occurrences(series.start, series.repeat, series.repeat_end, SERIES_LIMIT)
    kept = [s for s in starts if s not in set(series.excluded)]
    return _expand(series.start, kept, duration, reason)


def _expand(
    start: datetime, full: Sequence[datetime], duration: timedelta, reason: str
) -> Expanded:
    from dateutil.relativedelta import relativedelta

    why = reason.removeprefix("expanded: ")
    if len(full) > EXPAND_LIMIT:
        raise RecurrenceError(
            "repeat",
            f"{why}; as single meetings it would be {len(full)}, more than {EXPAND_LIMIT}: "
            "shorten or split the series",
        )
    first = full[0]
    horizon = (
        datetime.max.replace(tzinfo=UTC)
        if first.year + EXPAND_YEARS > 9999
        else first + relativedelta(years=EXPAND_YEARS)
    )
    if full[-1] >= horizon:
        raise RecurrenceError(
            "repeat",
            f"{why}; as single meetings it would run past {EXPAND_YEARS} years (to "
            f"{full[-1].astimezone(start.tzinfo).isoformat()}): shorten or split the series",
        )
    return Expanded(tuple((o, o + duration) for o in full), reason)


def _reason(
    start: datetime,
    rule: Any,
    full: Sequence[datetime],
    rdates: Sequence[Any],
    zone_name: str | None,
) -> str:
    zone = zone_name or getattr(start.tzinfo, "key", None) or start.tzname() or "its zone"
    if rdates:
        return "expanded: RDATE adds dates no Yunzhijia rule repeats on"
    if rule is None or len(full) < 2:
        return "expanded: a single occurrence is left"
    offsets = {o.astimezone(start.tzinfo).utcoffset() for o in full}
    if len(offsets) > 1:
        return f"expanded: the time of day in {zone} moves in Asia/Shanghai (daylight saving)"
    if full[0].astimezone(start.tzinfo).date() != full[0].astimezone(SHANGHAI).date():
        return f"expanded: the days in {zone} are other days in Asia/Shanghai"
    return "expanded: no Yunzhijia rule (workdays, daily, weekly, biweekly, monthly) fits exactly"
