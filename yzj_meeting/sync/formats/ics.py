"""``.ics`` (the ``ics`` extra): one meeting per ``VEVENT``; see ``yzj_meeting.sync.schedule``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ..entry import Problem, Record
from ._registry import register

__all__ = ["read"]


@register("ics", "ical", "ifb")
def read(text: str, path: str, problems: list[Problem]) -> list[Record]:
    """One meeting per ``VEVENT`` (needs the ``ics`` extra)."""
    try:
        icalendar = importlib.import_module("icalendar")
    except ImportError:
        problems.append(
            Problem(
                path, None, None, "reading .ics needs the ics extra: pip install 'yzj-meeting[ics]'"
            )
        )
        return []
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # the parser raises ValueError and others
        problems.append(Problem(path, None, None, f"not a valid iCalendar file: {exc}"))
        return []
    # icalendar keeps no positions: the n-th VEVENT starts at the n-th BEGIN:VEVENT line.
    starts = [
        i for i, raw in enumerate(text.splitlines(), 1) if raw.strip().upper() == "BEGIN:VEVENT"
    ]
    records: list[Record] = []
    for n, event in enumerate(calendar.walk("VEVENT")):
        line = starts[n] if n < len(starts) else None
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        found: list[_IcsProblem] = []
        record = _ics_event(event, found)
        problems.extend(Problem(path, line, p.field, p.message) for p in found)
        # Checked further all the same, without repeating what was just reported.
        records.append((line, record, frozenset(p.field for p in found)))
    return records


class _IcsProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_ICS_WORKDAYS = ["MO", "TU", "WE", "TH", "FR"]
_ICS_REMINDERS = {timedelta(0): 0, timedelta(minutes=-15): 15, timedelta(hours=-1): 60}


_ICS_TEXTS = {
    "UID": "key",
    "SUMMARY": "title",
    "DESCRIPTION": "content",
    "LOCATION": "place",
    "X-YZJ-ROOM-ID": "room_id",
    "X-YZJ-TYPE": "type",
    "X-YZJ-IMPORTANT": "important",
    "X-YZJ-MINUTES-REQUIRED": "minutes_required",
}


def _ics_event(event: Any, found: list[_IcsProblem]) -> dict[str, Any]:
    """The schedule fields of one VEVENT; what cannot be mapped is added to ``found``."""
    record: dict[str, Any] = {}
    if "RECURRENCE-ID" in event:
        found.append(
            _IcsProblem("repeat", "a changed single occurrence (RECURRENCE-ID) is not supported")
        )
    for name, field in _ICS_TEXTS.items():
        if name in event:
            record[field] = str(event[name])
    if "ORGANIZER" in event:
        record["openid"] = _ics_oid(event["ORGANIZER"])
    attendees = event.get("ATTENDEE")
    if attendees is not None:
        items = attendees if isinstance(attendees, list) else [attendees]
        record["attendees"] = [_ics_oid(a) for a in items]
    for step in (_ics_start, _ics_end, _ics_reminder, _ics_repeat):
        try:
            step(event, record)
        except _IcsProblem as problem:
            found.append(problem)
    return record


def _ics_start(event: Any, record: dict[str, Any]) -> None:
    if "DTSTART" in event:
        record["start"] = _ics_time(event, "DTSTART", "start").isoformat()


def _ics_end(event: Any, record: dict[str, Any]) -> None:
    if "DTEND" in event:
        record["end"] = _ics_time(event, "DTEND", "end").isoformat()
    elif "DURATION" in event and "start" in record:
        begin = datetime.fromisoformat(record["start"])
        record["end"] = (begin + event.decoded("DURATION")).isoformat()


def _ics_reminder(event: Any, record: dict[str, Any]) -> None:
    for alarm in event.walk("VALARM"):
        trigger = alarm.decoded("TRIGGER") if "TRIGGER" in alarm else None
        if not isinstance(trigger, timedelta) or trigger not in _ICS_REMINDERS:
            raise _IcsProblem(
                "reminder", "a VALARM must trigger 0, 15 or 60 minutes before the start"
            )
        record["reminder"] = _ICS_REMINDERS[trigger]


def _ics_repeat(event: Any, record: dict[str, Any]) -> None:
    if "RRULE" in event:
        record["repeat"], record["repeat_until"] = _ics_rule(event["RRULE"])


def _ics_oid(address: Any) -> str:
    return str(address).rsplit(":", 1)[-1].strip()


def _ics_time(event: Any, name: str, field: str) -> datetime:
    value = event.decoded(name)
    if not isinstance(value, datetime):
        raise _IcsProblem(field, "an all-day event has no time: give DTSTART/DTEND with a time")
    if value.utcoffset() is None:
        raise _IcsProblem(
            field, f"floating time {value.isoformat()}: give a TZID (e.g. Asia/Shanghai) or UTC"
        )
    return value


_ICS_RULES = {
    ("DAILY", 1): "daily",
    ("WEEKLY", 1): "weekly",
    ("WEEKLY", 2): "biweekly",
    ("MONTHLY", 1): "monthly",
}


def _ics_rule(rule: Mapping[str, list[Any]]) -> tuple[str, str]:
    """An RRULE as a schedule ``repeat`` name and ``repeat_until`` text."""
    text = ";".join(f"{k}={','.join(str(v) for v in vs)}" for k, vs in rule.items())
    unknown = sorted(set(rule) - {"FREQ", "INTERVAL", "UNTIL", "BYDAY", "WKST"})
    if "COUNT" in unknown:
        raise _IcsProblem("repeat", f"RRULE {text}: COUNT is not supported, end it with UNTIL")
    if unknown:
        raise _IcsProblem("repeat", f"RRULE {text}: {', '.join(unknown)} has no Yunzhijia rule")
    freq = str(rule["FREQ"][0]) if rule.get("FREQ") else None
    interval = int(rule["INTERVAL"][0]) if rule.get("INTERVAL") else 1
    byday = [str(day) for day in rule["BYDAY"]] if rule.get("BYDAY") else None
    name: str | None = None
    if byday is None:
        name = _ICS_RULES.get((freq or "", interval))
    elif byday == _ICS_WORKDAYS and interval == 1 and freq in ("DAILY", "WEEKLY"):
        name = "workdays"
    if name is None:
        raise _IcsProblem("repeat", f"RRULE {text} has no Yunzhijia rule")
    if not rule.get("UNTIL"):
        raise _IcsProblem("repeat_until", "the RRULE needs an UNTIL (COUNT is not supported)")
    until = rule["UNTIL"][0]
    return name, until.isoformat() if isinstance(until, date) else str(until)
