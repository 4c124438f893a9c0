"""A pre-check of iCalendar text before icalendar reads it (pure, no I/O).

icalendar keeps no line numbers, turns two ``SUMMARY`` lines into a list, defers a broken
``RRULE``/``DURATION``/``DTSTART`` value to a ``BrokenCalendarProperty`` or ``TypeError`` at
first use and decodes an unknown ``TZID`` as floating time. :func:`scan_ics` reads the content
lines itself (unfolded, with their line numbers) and reports, per ``VEVENT``: a single-valued
property given twice, ``DTEND`` with ``DURATION``, a date or date-time value that is not one, a
``TZID`` neither defined in the file nor known, a time whose Asia/Shanghai day is past the year
9999, a ``DURATION`` or ``RRULE`` that does not parse. It also returns the events' raw
properties (``RRULE``/``EXDATE``/``RDATE`` text with their lines) for the recurrence mapping.
"""

from __future__ import annotations

import importlib
import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, tzinfo
from functools import cache

import attrs

from ..models import SHANGHAI
from .problems import Problem

__all__ = ["FIELD_OF", "IcsEvent", "IcsProperty", "parse_ics_time", "scan_ics"]

SINGLE = frozenset(
    [
        "UID",
        "SUMMARY",
        "DTSTART",
        "DTEND",
        "DURATION",
        "DESCRIPTION",
        "LOCATION",
        "ORGANIZER",
        "RRULE",
        "STATUS",
        "CLASS",
        "CREATED",
        "DTSTAMP",
        "LAST-MODIFIED",
        "SEQUENCE",
        "RECURRENCE-ID",
        "TRANSP",
        "URL",
        "PRIORITY",
        "GEO",
        "X-YZJ-ROOM-ID",
        "X-YZJ-TYPE",
        "X-YZJ-IMPORTANT",
        "X-YZJ-MINUTES-REQUIRED",
    ]
)
"""VEVENT properties that may appear once (RFC 5545 3.6.1; RRULE "SHOULD NOT" repeat)."""

FIELD_OF = {
    "UID": "key",
    "SUMMARY": "title",
    "DTSTART": "start",
    "DTEND": "end",
    "DURATION": "end",
    "DESCRIPTION": "content",
    "LOCATION": "place",
    "ORGANIZER": "openid",
    "ATTENDEE": "attendees",
    "RRULE": "repeat",
    "EXDATE": "repeat",
    "RDATE": "repeat",
    "X-YZJ-ROOM-ID": "room_id",
    "X-YZJ-TYPE": "type",
    "X-YZJ-IMPORTANT": "important",
    "X-YZJ-MINUTES-REQUIRED": "minutes_required",
}
"""The schedule field a VEVENT property fills (problems are reported under it)."""

_NAME = re.compile(r"[A-Za-z0-9-]+")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")
_DURATION = re.compile(r"[+-]?P(?:\d+W|(?=\d|T\d)(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)")
_RRULE_PARTS = frozenset(
    [
        "FREQ",
        "UNTIL",
        "COUNT",
        "INTERVAL",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "WKST",
    ]
)
_TIMES = ("DTSTART", "DTEND", "RECURRENCE-ID")
_LISTS = ("EXDATE", "RDATE")


@attrs.frozen
class IcsProperty:
    """One content line: ``NAME;PARAM=VALUE:value`` (name and parameter names upper-cased)."""

    name: str
    params: dict[str, str]
    value: str
    line: int


@attrs.frozen
class IcsEvent:
    """One VEVENT's own properties (not those of a VALARM inside it), from ``line``."""

    line: int
    properties: tuple[IcsProperty, ...]

    def get(self, name: str) -> IcsProperty | None:
        """The first property ``name``, if any."""
        return next((p for p in self.properties if p.name == name), None)

    def all(self, name: str) -> list[IcsProperty]:
        """Every property ``name``."""
        return [p for p in self.properties if p.name == name]


def scan_ics(text: str, path: str, problems: list[Problem]) -> list[IcsEvent]:
    """The VEVENTs of ``text``; what icalendar would misread is added to ``problems``."""
    events: list[IcsEvent] = []
    zones: set[str] = set()
    stack: list[tuple[str, int]] = []
    current: list[IcsProperty] = []
    for line, raw in _content_lines(text):
        prop = _parse(raw, line)
        if prop is None:
            problems.append(
                Problem(path, line, None, f"not an iCalendar content line: {raw[:40]!r}")
            )
            continue
        if prop.name == "BEGIN":
            stack.append((prop.value.upper(), line))
            if prop.value.upper() == "VEVENT":
                current = []
        elif prop.name == "END":
            if not stack or stack[-1][0] != prop.value.upper():
                problems.append(Problem(path, line, None, f"END:{prop.value} closes nothing open"))
                continue
            kind, start = stack.pop()
            if kind == "VEVENT":
                events.append(IcsEvent(start, tuple(current)))
        elif stack and stack[-1][0] == "VEVENT":
            current.append(prop)
        elif stack and stack[-1][0] == "VTIMEZONE" and prop.name == "TZID":
            zones.add(prop.value)
    for kind, start in stack:
        problems.append(Problem(path, start, None, f"BEGIN:{kind} is never closed (END:{kind})"))
    for event in events:
        _check_event(event, zones, path, problems)
    return events


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded content lines with the number of the line each starts on."""
    start, parts = 0, list[str]()
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if raw[:1] in (" ", "\t") and parts:
            parts.append(raw[1:])
            continue
        if parts and "".join(parts).strip():
            yield start, "".join(parts)
        start, parts = number, [raw]
    if parts and "".join(parts).strip():
        yield start, "".join(parts)


def _parse(raw: str, line: int) -> IcsProperty | None:
    match = _NAME.match(raw)
    if match is None:
        return None
    name, i, params = match.group().upper(), match.end(), {}
    while i < len(raw) and raw[i] == ";":
        eq = raw.find("=", i)
        if eq < 0:
            return None
        key, i = raw[i + 1 : eq].upper(), eq + 1
        if raw[i : i + 1] == '"':
            close = raw.find('"', i + 1)
            if close < 0:
                return None
            params[key], i = raw[i + 1 : close], close + 1
        else:
            stop = min((j for j in (raw.find(";", i), raw.find(":", i)) if j >= 0), default=-1)
            if stop < 0:
                return None
            params[key], i = raw[i:stop], stop
    if i >= len(raw) or raw[i] != ":":
        return None
    return IcsProperty(name, params, raw[i + 1 :], line)


def _check_event(event: IcsEvent, zones: set[str], path: str, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}

    def bad(prop: IcsProperty, message: str) -> None:
        problems.append(Problem(path, prop.line, FIELD_OF.get(prop.name, prop.name), message))

    for prop in event.properties:
        if prop.name in SINGLE and prop.name in seen:
            bad(
                prop,
                f"{prop.name} appears twice in one event (lines {seen[prop.name]} and "
                f"{prop.line}): keep one",
            )
        seen.setdefault(prop.name, prop.line)
        try:
            if prop.name in _TIMES:
                parse_ics_time(prop.value, prop.params, zones, name=prop.name)
            elif prop.name in _LISTS:
                _check_list(prop, zones)
            elif prop.name == "DURATION" and not _DURATION.fullmatch(prop.value.strip()):
                raise ValueError(f"DURATION {prop.value!r} is not a duration (e.g. PT1H30M)")
            elif prop.name == "RRULE":
                _check_rule(prop.value)
        except ValueError as exc:
            bad(prop, str(exc))
    if "DTEND" in seen and "DURATION" in seen:
        duration = event.get("DURATION")
        assert duration is not None
        bad(duration, "an event has DTEND or DURATION, not both")


def _check_list(prop: IcsProperty, zones: set[str]) -> None:
    if prop.params.get("VALUE", "").upper() == "PERIOD":
        raise ValueError(f"{prop.name} periods are not supported: give dates or date-times")
    for item in prop.value.split(","):
        parse_ics_time(item, prop.params, zones, name=prop.name)


def _check_rule(value: str) -> None:
    parts = [p for p in value.strip().split(";") if p]
    names: list[str] = []
    for part in parts:
        name, eq, rest = part.partition("=")
        name = name.strip().upper()
        if not eq or not rest.strip() or name not in _RRULE_PARTS:
            raise ValueError(f"RRULE {value!r}: {part!r} is not a rule part (like FREQ=WEEKLY)")
        if name in names:
            raise ValueError(f"RRULE {value!r}: {name} appears twice")
        names.append(name)
    if "FREQ" not in names:
        raise ValueError(f"RRULE {value!r} has no FREQ")
    if "COUNT" in names and "UNTIL" in names:
        raise ValueError(f"RRULE {value!r} has both COUNT and UNTIL: keep one")


def parse_ics_time(
    value: str,
    params: dict[str, str],
    zones: set[str] | frozenset[str] = frozenset(),
    *,
    name: str = "DTSTART",
) -> date | datetime:
    """A DATE or DATE-TIME value checked: a real date, a known ``TZID`` (defined in the file,
    an IANA or a Windows zone name), a Shanghai day up to the year 9999. Floating times come
    back naive; a ``TZID`` the file defines comes back with no zone (icalendar resolves it)."""
    text = value.strip()
    if match := _DATE_TIME.fullmatch(text):
        y, mo, d, h, mi, s, z = match.groups()
        try:
            moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
        except ValueError:
            raise ValueError(f"{name} {text!r} is not a real date and time") from None
        zone = UTC if z else _zone(params.get("TZID"), zones, name)
        if zone is not None:
            moment = moment.replace(tzinfo=zone)
            try:
                moment.astimezone(SHANGHAI)
            except OverflowError:
                raise ValueError(
                    f"{name} {text!r} is past the year 9999 in Asia/Shanghai"
                ) from None
        return moment
    if match := _DATE.fullmatch(text):
        try:
            return date(*(int(g) for g in match.groups()))
        except ValueError:
            raise ValueError(f"{name} {text!r} is not a real date") from None
    raise ValueError(
        f"{name} {text!r} is not a date (20261201) or date-time (20261201T093000, ...Z)"
    )


def _zone(tzid: str | None, zones: set[str] | frozenset[str], name: str) -> tzinfo | None:
    if tzid is None or tzid in zones:
        return None
    found = _known_zone(tzid.strip().lstrip("/"))
    if found is None:
        raise ValueError(
            f"{name} has the unknown time zone TZID={tzid!r}: use an IANA name "
            "(e.g. Asia/Shanghai) or add its VTIMEZONE"
        )
    return found


@cache
def _known_zone(tzid: str) -> tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(tzid)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    try:
        module = importlib.import_module("icalendar.timezone.windows_to_olson")
    except ImportError:
        return None
    olson = module.WINDOWS_TO_OLSON.get(tzid)
    return zoneinfo.ZoneInfo(olson) if olson else None
