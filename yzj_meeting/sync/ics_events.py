"""iCalendar events as schedule records: the pre-check, icalendar's decoding, the recurrence.

:func:`ics_records` turns each ``VEVENT`` into the schedule fields of one meeting, of one
Yunzhijia series (when :func:`~yzj_meeting.sync.recurrence.resolve` finds an exact rule; its
excluded occurrences in ``EXCLUDED``, cancelled once it is created), or of one single meeting
per occurrence (keys ``UID#20261201T013000Z``, the occurrence's start in
UTC), with the reason in ``NOTE``. People stay as written (``mailto:...`` or the oid after the
last colon): the entry check resolves addresses through the people map.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs

from ..models import SHANGHAI
from .ics_check import IcsEvent, scan_ics
from .problems import Problem
from .recurrence import Expanded, RecurrenceError, Series, resolve

__all__ = ["EXCLUDED", "NOTE", "IcsRecord", "ics_records"]

NOTE = "@note"
"""The record key holding why an event was expanded (removed before the fields are checked)."""
EXCLUDED = "@excluded"
"""The record key holding a series' excluded occurrence starts (EXDATE), cancelled after it is
created (see :mod:`yzj_meeting.sync.exclusions`)."""

_REPEAT_NAMES = {1: "workdays", 2: "daily", 3: "weekly", 4: "biweekly", 5: "monthly"}
_REMINDERS = {timedelta(0): 0, timedelta(minutes=-15): 15, timedelta(hours=-1): 60}
_TEXTS = {
    "UID": "key",
    "SUMMARY": "title",
    "DESCRIPTION": "content",
    "LOCATION": "place",
    "X-YZJ-ROOM-ID": "room_id",
    "X-YZJ-TYPE": "type",
    "X-YZJ-IMPORTANT": "important",
    "X-YZJ-MINUTES-REQUIRED": "minutes_required",
}


@attrs.frozen
class IcsRecord:
    """One meeting's schedule fields, the event's line, the fields already reported."""

    line: int | None
    fields: dict[str, Any]
    reported: frozenset[str] = frozenset()


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def ics_records(text: str, path: str, problems: list[Problem]) -> list[IcsRecord]:
    """The meetings of an iCalendar text; problems (with lines) are added to ``problems``."""
    try:
        icalendar = importlib.import_module("icalendar")
    except ImportError:
        message = "reading .ics needs the ics extra: pip install 'yzj-meeting[ics]'"
        problems.append(Problem(path, None, None, message))
        return []
    before = len(problems)
    scanned = scan_ics(text, path, problems)
    if len(problems) > before:
        return []  # icalendar would misread what the pre-check refused
    try:
        calendar = icalendar.Calendar.from_ical(text)
        events = list(calendar.walk("VEVENT"))
    except Exception as exc:  # the parser raises ValueError and others
        problems.append(Problem(path, None, None, f"not a valid iCalendar file: {exc}"))
        return []
    if len(events) != len(scanned):
        problems.append(Problem(path, None, None, "an event inside an event is not supported"))
        return []
    pairs = list(zip(scanned, events, strict=True))
    moved = _overridden(pairs, path, problems)
    records: list[IcsRecord] = []
    for raw, event in pairs:
        status = raw.get("STATUS")
        if status is not None and status.value.strip().upper() == "CANCELLED":
            continue  # (a cancelled override still excluded its occurrence from the master)
        found: list[_Bad] = []
        uid = str(event.get("UID", "")).strip()
        try:
            if raw.get("RECURRENCE-ID") is not None:
                records.extend(_override(raw, event, found))
            else:
                records.extend(_event(raw, event, found, moved.get(uid, [])))
        except Exception as exc:  # icalendar defers some decoding errors to first use
            found.append(_Bad("event", f"cannot read this event: {type(exc).__name__}: {exc}"))
        problems.extend(Problem(path, raw.line, p.field, p.message) for p in found)
    return records


def _overridden(
    pairs: list[tuple[IcsEvent, Any]], path: str, problems: list[Problem]
) -> dict[str, list[date | datetime]]:
    """The occurrences each UID's overrides (``RECURRENCE-ID`` events) take out of its master:
    a moved or changed occurrence is the override's own meeting, a cancelled one is gone."""
    moved: dict[str, list[date | datetime]] = {}
    for raw, event in pairs:
        prop = raw.get("RECURRENCE-ID")
        if prop is None:
            continue
        if prop.params.get("RANGE", "").upper() == "THISANDFUTURE":
            message = "RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: export the series again"
            problems.append(Problem(path, prop.line, "repeat", message))
            continue
        try:
            rid = event.decoded("RECURRENCE-ID")
        except Exception as exc:  # a mangled file: the parsed event is not the scanned one
            message = f"cannot read RECURRENCE-ID: {type(exc).__name__}: {exc}"
            problems.append(Problem(path, prop.line, "key", message))
            continue
        moved.setdefault(str(event.get("UID", "")).strip(), []).append(rid)
    return moved


def _override(raw: IcsEvent, event: Any, found: list[_Bad]) -> list[IcsRecord]:
    """A changed occurrence: a single meeting keyed by the occurrence it replaces."""
    rid = event.decoded("RECURRENCE-ID")
    if raw.get("RRULE") is not None or raw.get("RDATE") is not None:
        found.append(_Bad("repeat", "a changed occurrence (RECURRENCE-ID) cannot repeat"))
        return []
    if isinstance(rid, datetime) and rid.utcoffset() is None:
        found.append(_Bad("key", "RECURRENCE-ID is a floating time: add its TZID or Z"))
        return []
    suffix = (
        f"{rid.astimezone(UTC):%Y%m%dT%H%M%SZ}" if isinstance(rid, datetime) else f"{rid:%Y%m%d}"
    )
    records = _event(raw, event, found, [])
    for record in records:
        key = record.fields.get("key")
        if isinstance(key, str) and key.strip():
            record.fields["key"] = f"{key.strip()}#{suffix}"
    return records


def _event(
    raw: IcsEvent, event: Any, found: list[_Bad], moved: list[date | datetime]
) -> list[IcsRecord]:
    """The records of one event; ``moved``: its occurrences that overrides replace."""
    record = _plain_fields(raw, event)
    times: dict[str, datetime] = {}
    for step in (_start, _end, _reminder):
        try:
            step(raw, event, record, times)
        except _Bad as problem:
            found.append(problem)
    reported = frozenset(p.field for p in found)
    if "start" not in times or "end" not in times:
        return [IcsRecord(raw.line, record, reported)]
    try:
        shape = _recurrence(raw, event, times["start"], times["end"], moved)
    except RecurrenceError as exc:
        found.append(_Bad(exc.field, exc.message))
        fields = {**record, "start": times["start"].isoformat(), "end": times["end"].isoformat()}
        return [IcsRecord(raw.line, fields, reported | {exc.field})]
    return _shaped(raw.line, record, times["start"], times["end"], shape, reported)


def _plain_fields(raw: IcsEvent, event: Any) -> dict[str, Any]:
    """The text fields, the organizer and the attendees of one event."""
    record: dict[str, Any] = {}
    for name, field in _TEXTS.items():
        if name in event:
            record[field] = str(event[name])
    if raw.get("ORGANIZER") is not None:
        record["openid"] = _person(str(event["ORGANIZER"]))
    if raw.all("ATTENDEE"):
        items = event["ATTENDEE"]
        record["attendees"] = [
            _person(str(a)) for a in (items if isinstance(items, list) else [items])
        ]
    return record


def _start(raw: IcsEvent, event: Any, record: dict[str, Any], times: dict[str, datetime]) -> None:
    if "DTSTART" in event:
        times["start"] = _time(event, raw, "DTSTART", "start")


def _end(raw: IcsEvent, event: Any, record: dict[str, Any], times: dict[str, datetime]) -> None:
    if "DTEND" in event:
        times["end"] = _time(event, raw, "DTEND", "end")
    elif "DURATION" in event and "start" in times:
        begin, duration = times["start"], event.decoded("DURATION")
        # A duration in hours/minutes is exact; one in days or weeks is on the clock.
        exact = duration.days == 0
        zone = begin.tzinfo
        times["end"] = (
            (begin.astimezone(UTC) + duration).astimezone(zone) if exact else begin + duration
        )


def _reminder(
    raw: IcsEvent, event: Any, record: dict[str, Any], times: dict[str, datetime]
) -> None:
    for alarm in event.walk("VALARM"):
        trigger = alarm.decoded("TRIGGER") if "TRIGGER" in alarm else None
        if not isinstance(trigger, timedelta) or trigger not in _REMINDERS:
            raise _Bad("reminder", "a VALARM must trigger 0, 15 or 60 minutes before the start")
        record["reminder"] = _REMINDERS[trigger]


def _person(address: str) -> str:
    text = address.strip()
    return text if text[:7].lower() == "mailto:" else text.rsplit(":", 1)[-1].strip()


def _time(event: Any, raw: IcsEvent, name: str, field: str) -> datetime:
    value = event.decoded(name)
    if not isinstance(value, datetime):
        raise _Bad(field, f"{name} is a date (an all-day event): give {name} with a time of day")
    if value.utcoffset() is None:
        prop = raw.get(name)
        shown = prop.value if prop is not None else value.isoformat()
        raise _Bad(
            field, f"{name} {shown} is a floating time: add a TZID (e.g. Asia/Shanghai) or Z"
        )
    return value


def _recurrence(
    raw: IcsEvent, event: Any, start: datetime, end: datetime, moved: list[date | datetime]
) -> Series | Expanded | None:
    rule = raw.get("RRULE")
    exdates = [*_dates(event, "EXDATE"), *moved]
    rdates = _dates(event, "RDATE")
    if rule is None and not rdates:
        return None
    if end <= start:
        return None  # the entry check reports it
    dtstart = raw.get("DTSTART")
    zone = dtstart.params.get("TZID") if dtstart is not None else None
    return resolve(
        start, end, rule.value if rule is not None else None, exdates, rdates, zone_name=zone
    )


def _dates(event: Any, name: str) -> list[date | datetime]:
    if name not in event:
        return []
    values = event[name]
    out: list[date | datetime] = []
    for value in values if isinstance(values, list) else [values]:
        out.extend(item.dt for item in value.dts)
    return out


def _shaped(
    line: int | None,
    record: dict[str, Any],
    start: datetime,
    end: datetime,
    shape: Series | Expanded | None,
    reported: frozenset[str],
) -> list[IcsRecord]:
    if shape is None:
        fields = {**record, "start": start.isoformat(), "end": end.isoformat()}
        return [IcsRecord(line, fields, reported)]
    if isinstance(shape, Series):
        fields = {
            **record,
            "start": shape.start.astimezone(SHANGHAI).isoformat(),
            "end": shape.end.astimezone(SHANGHAI).isoformat(),
            "repeat": _REPEAT_NAMES[int(shape.repeat)],
            "repeat_until": shape.repeat_end.astimezone(SHANGHAI).isoformat(),
        }
        if shape.excluded:
            starts = [s.astimezone(SHANGHAI).isoformat() for s in shape.excluded]
            fields[EXCLUDED] = starts
            fields[NOTE] = (
                f"series; then {len(starts)} excluded occurrence(s) (EXDATE or a changed "
                f"occurrence) cancelled: {', '.join(starts)}"
            )
        return [IcsRecord(line, fields, reported)]
    key = record.get("key")
    out = []
    for begin, finish in shape.occurrences:
        fields = {
            **record,
            "start": begin.astimezone(SHANGHAI).isoformat(),
            "end": finish.astimezone(SHANGHAI).isoformat(),
            NOTE: shape.reason,
        }
        if isinstance(key, str) and key.strip():
            fields["key"] = f"{key.strip()}#{begin.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        out.append(IcsRecord(line, fields, reported))
    return out
