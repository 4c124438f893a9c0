"""Schedule files: the desired meetings, read from JSON, JSONL, CSV or ICS, checked all at once.

A schedule is a list of meetings. Each has a ``key`` of your own that never changes (it is how
a later run recognises the meeting to modify or cancel) and these fields:

| field | required | value |
|---|---|---|
| `key` | yes | your stable id for the meeting, unique in the file |
| `openid` | yes | the creator's oid |
| `title` | yes | |
| `start` | yes | ISO 8601 date and time **with** offset: `2026-12-01T09:30:00+08:00` |
| `end` | yes | same form, after `start` |
| `attendees` | no | list of oids (CSV: one cell, oids separated by `;`) |
| `content` | no | description |
| `place` | no | where (single meetings only) |
| `room_id` | no | meeting room id (single meetings only) |
| `reminder` | no | minutes before the start: `-1` none, `0` at start, `15`, `60` |
| `important` | no | `true`/`false` (CSV also `1`/`0`, `yes`/`no`) |
| `type` | no | `sign` (check-in) or `voice`; empty for an ordinary meeting (single meetings only) |
| `minutes_required` | no | `true`/`false`: attendees must submit minutes |
| `repeat` | no | `none` (default), `workdays`, `daily`, `weekly`, `biweekly`, `monthly` |
| `repeat_until` | with `repeat` | last day a repetition may start: `2026-12-31` |

`repeat_until` is a date (that day in Asia/Shanghai) or a date and time with offset. A meeting
with a `repeat` other than `none` is a series (``repeatMeeting``); its first occurrence is at
`start`. The API takes no place, room or type for a series, so those fields
are refused there. A field left out (or empty, or `null`) is not sent, and a later sync clears
it on the server: a sync makes each meeting exactly what its entry says.

Formats, chosen by the file's extension:

- `.json`: a list of meeting objects, or `{"meetings": [...]}`;
- `.jsonl` / `.ndjson`: one meeting object a line (blank lines are skipped);
- `.csv`: a header row naming the fields (any order; leave out the optional ones you do not
  use), then one meeting a row; UTF-8, a BOM is allowed;
- `.ics` (with the `ics` extra, `pip install 'yzj-meeting[ics]'`): one meeting per `VEVENT`
  (see :mod:`yzj_meeting.sync.ics_events`): `UID` is the key, `SUMMARY` the title,
  `DTSTART`/`DTEND` (or `DURATION`) the times (with a `TZID` or in UTC), `DESCRIPTION` the
  content, `LOCATION` the place, `ORGANIZER`/`ATTENDEE` the people (oids, or `mailto:`
  addresses resolved through the people map), a `VALARM` the reminder. `RRULE`/`RDATE`/
  `EXDATE` become a Yunzhijia series only when exact, else one single meeting per occurrence
  (:mod:`yzj_meeting.sync.recurrence`). Events with `STATUS:CANCELLED` are left out.

Files are read through :mod:`yzj_meeting.sync.safe_read` (regular files only, size cap,
control characters, duplicate JSON keys, ...); CSVs may be `,`, `;` or tab separated.
Every problem of a file is reported at once, in one ``ScheduleError`` listing each as
``file:line: field: message``; nothing is sent when a file has any.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import attrs

from .._convert import unstructure
from ..errors import ValidationError
from ..models import (
    SHANGHAI,
    CreateMeeting,
    MeetingType,
    NoticeTime,
    Repeat,
    RepeatMeeting,
)
from .ics_events import NOTE, ics_records
from .people import PeopleMap, resolve_person
from .problems import Problem
from .safe_read import check_text, csv_delimiter, load_json, read_text

__all__ = [
    "FIELDS",
    "REPEAT_NAMES",
    "Entry",
    "Problem",
    "ScheduleError",
    "fingerprint",
    "load_schedule",
    "parse_entry",
    "parse_schedule",
]

FIELDS: tuple[str, ...] = (
    "key",
    "openid",
    "title",
    "start",
    "end",
    "attendees",
    "content",
    "place",
    "room_id",
    "reminder",
    "important",
    "type",
    "minutes_required",
    "repeat",
    "repeat_until",
)
"""Every field a schedule entry may have, in documentation order."""

_REQUIRED = ("key", "openid", "title", "start", "end")
_COLUMNS = frozenset(FIELDS)
_SINGLE_ONLY = ("place", "room_id", "type")

REPEAT_NAMES: Mapping[str, Repeat] = {
    "none": Repeat.NONE,
    "workdays": Repeat.WORKDAYS,
    "daily": Repeat.DAILY,
    "weekly": Repeat.WEEKLY,
    "biweekly": Repeat.BIWEEKLY,
    "monthly": Repeat.MONTHLY,
}
"""Schedule names of the repetition rules."""

# The SDK models' field names, as the schedule calls them (to report model validation errors).
_MODEL_FIELDS = {
    "openid": "openid",
    "title": "title",
    "start_date": "start",
    "end_date": "end",
    "content": "content",
    "meeting_place": "place",
    "room_id": "room_id",
    "notice_time": "reminder",
    "top_state": "important",
    "actors": "attendees",
    "type": "type",
    "submit_experience": "minutes_required",
    "repeat": "repeat",
    "repeat_end_date": "repeat_until",
}

_TRUE = frozenset(("true", "yes", "y", "1"))
_FALSE = frozenset(("false", "no", "n", "0"))


class ScheduleError(ValidationError):
    """A schedule file has problems; ``problems`` lists every one, the message shows them all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        problems = list(problems)
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the schedule"
        text = "\n".join([head + ":", *(f"  {p}" for p in problems)])
        super().__init__((problems[0].field or "schedule") if problems else "schedule", text)
        self.args = (text,)
        self.problems = problems


@attrs.frozen
class Entry:
    """One desired meeting: your ``key``, the request that creates it, where it was read."""

    key: str
    model: CreateMeeting | RepeatMeeting
    path: str = "<schedule>"
    line: int | None = None
    note: str | None = None
    """Why the entry is one of an event's occurrences (``expanded: ...``), if it is."""

    @property
    def is_series(self) -> bool:
        """Whether the entry is a repeating meeting (created with ``repeatMeeting``)."""
        return isinstance(self.model, RepeatMeeting)

    @property
    def attendees(self) -> tuple[str, ...]:
        """The attendee oids (empty when none)."""
        return self.model.actors or ()

    @property
    def fingerprint(self) -> str:
        """A stable hash of what the entry sends (see :func:`fingerprint`)."""
        return fingerprint(self.model)

    @property
    def where(self) -> str:
        """``file:line`` of the entry."""
        return self.path if self.line is None else f"{self.path}:{self.line}"


def fingerprint(model: CreateMeeting | RepeatMeeting) -> str:
    """A stable hash of the wire content of a create or repeatMeeting body.

    Equal for equal meetings whatever the offset the times were written in; attendee order
    does not count (the service keeps a set of attendees).
    """
    body = unstructure(model)
    if "actors" in body:
        body["actors"] = sorted(set(body["actors"]))
    body["@kind"] = "series" if isinstance(model, RepeatMeeting) else "single"
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- reading files ---


def load_schedule(
    path: str | os.PathLike[str], *, format: str | None = None, people: PeopleMap | None = None
) -> list[Entry]:
    """Read and check a schedule file; raises ``ScheduleError`` listing every problem.

    ``format`` is ``json``, ``jsonl``, ``csv`` or ``ics``; by default it follows the file's
    extension. ``people`` resolves creators and attendees given as email addresses.
    """
    name = os.fspath(path)
    kind = (format or Path(name).suffix.lstrip(".")).lower()
    kind = {"ndjson": "jsonl", "ical": "ics", "ifb": "ics"}.get(kind, kind)
    if kind not in ("json", "jsonl", "csv", "ics"):
        raise ScheduleError(
            [Problem(name, None, None, "unknown format: use a .json, .jsonl, .csv or .ics file")]
        )
    problems: list[Problem] = []
    text = read_text(name, problems)
    if text is None:
        raise ScheduleError(problems)
    return parse_schedule(text, kind, path=name, people=people)


def parse_schedule(
    text: str, format: str, *, path: str = "<schedule>", people: PeopleMap | None = None
) -> list[Entry]:
    """Check a schedule given as text in ``format`` (``json``, ``jsonl``, ``csv``, ``ics``)."""
    problems: list[Problem] = []
    records: Iterable[_Record]
    if not check_text(text, path, problems):
        raise ScheduleError(problems)  # a control character or lone surrogate: nothing else
    if format == "json":
        records = _json_records(text, path, problems)
    elif format == "jsonl":
        records = _jsonl_records(text, path, problems)
    elif format == "csv":
        records = _csv_records(text, path, problems)
    elif format == "ics":
        records = _ics_records(text, path, problems)
    else:
        raise ValueError(f"unknown schedule format {format!r}")
    entries = _entries(records, path, problems, people)
    if problems:
        problems.sort(key=lambda p: p.line or 0)  # stable: a line's problems keep their order
        raise ScheduleError(problems)
    return entries


def parse_entry(
    record: Mapping[str, Any], *, path: str = "<arguments>", line: int | None = None
) -> Entry:
    """Check one meeting given as a mapping of schedule fields; ``ScheduleError`` if wrong."""
    problems: list[Problem] = []
    entry = _entry(record, path, line, problems)
    if problems or entry is None:
        raise ScheduleError(problems)
    return entry


_Record = tuple[int | None, Any, frozenset[str]]  # line, object, fields already reported missing


def _entries(
    records: Iterable[_Record], path: str, problems: list[Problem], people: PeopleMap | None = None
) -> list[Entry]:
    entries: list[Entry] = []
    seen: dict[str, int | None] = {}
    for line, record, missing in records:
        if not isinstance(record, Mapping):
            problems.append(
                Problem(path, line, None, f"a meeting must be an object, got {_kind(record)}")
            )
            continue
        note = record.get(NOTE)
        if note is not None:
            record = {k: v for k, v in record.items() if k != NOTE}
        entry = _entry(record, path, line, problems, missing, people)
        if entry is not None and note is not None:
            entry = attrs.evolve(entry, note=str(note))
        key = record.get("key")
        if isinstance(key, str) and key.strip():
            key = key.strip()
            if key in seen:
                first = seen[key]
                at = f" (first at line {first})" if first is not None else ""
                problems.append(Problem(path, line, "key", f"duplicate key {key!r}{at}"))
                continue
            seen[key] = line
        if entry is not None:
            entries.append(entry)
    return entries


def _json_records(text: str, path: str, problems: list[Problem]) -> list[_Record]:
    before = len(problems)
    document = load_json(text, path, problems)
    if len(problems) > before:
        return []
    if isinstance(document, dict):
        extra = [k for k in document if k != "meetings"]
        for k in extra:
            problems.append(Problem(path, 1, k, "unknown top-level field (expected 'meetings')"))
        meetings = document.get("meetings")
        if not isinstance(meetings, list):
            problems.append(Problem(path, 1, "meetings", "must be a list of meetings"))
            return []
    elif isinstance(document, list):
        meetings = document
    else:
        problems.append(
            Problem(path, 1, None, 'expected a list of meetings or {"meetings": [...]}')
        )
        return []
    lines = _json_item_lines(text)
    if len(lines) != len(meetings):  # cannot happen for valid JSON; stay safe anyway
        lines = [None] * len(meetings)  # type: ignore[list-item]
    return [(line, item, frozenset()) for line, item in zip(lines, meetings, strict=True)]


def _json_item_lines(text: str) -> list[int]:
    """The line on which each meeting of a (valid) JSON schedule starts."""
    decoder = json.JSONDecoder()
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def array(i: int) -> list[int]:
        starts = []
        i = skip(i + 1)
        while i < n and text[i] != "]":
            starts.append(text.count("\n", 0, i) + 1)
            _, i = decoder.raw_decode(text, i)
            i = skip(i)
            if i < n and text[i] == ",":
                i = skip(i + 1)
        return starts

    i = skip(0)
    if i < n and text[i] == "[":
        return array(i)
    i = skip(i + 1)
    found: list[int] = []
    while i < n and text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = skip(skip(i) + 1)  # past the colon
        if key == "meetings" and i < n and text[i] == "[":
            found = array(i)
        _, i = decoder.raw_decode(text, i)
        i = skip(i)
        if i < n and text[i] == ",":
            i = skip(i + 1)
    return found


def _jsonl_records(text: str, path: str, problems: list[Problem]) -> list[_Record]:
    records: list[_Record] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        before = len(problems)
        record = load_json(raw, path, problems, first_line=number)
        if len(problems) == before:
            records.append((number, record, frozenset()))
    return records


def _csv_records(text: str, path: str, problems: list[Problem]) -> Iterable[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text, _COLUMNS))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(path, 1, None, "empty file: expected a header row"))
        return
    except csv.Error as exc:
        problems.append(Problem(path, 1, None, f"not valid CSV: {exc}"))
        return
    columns = [c.strip() for c in header]
    for column in columns:
        if column not in FIELDS:
            problems.append(Problem(path, 1, column or "(empty)", "unknown column"))
    for column in {c for c in columns if columns.count(c) > 1}:
        problems.append(Problem(path, 1, column, "column appears more than once"))
    missing = frozenset(c for c in _REQUIRED if c not in columns)
    for column in sorted(missing, key=_REQUIRED.index):
        problems.append(Problem(path, 1, column, "required column is missing"))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(path, reader.line_num, None, f"not valid CSV: {exc}"))
            return
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            problems.append(
                Problem(path, line, None, f"{len(row)} cells, but the header has {len(columns)}")
            )
            continue
        record = {
            column: cell
            for column, cell in zip(columns, row, strict=False)
            if column in FIELDS and cell.strip()
        }
        yield line, record, missing


def _ics_records(text: str, path: str, problems: list[Problem]) -> list[_Record]:
    return [(r.line, r.fields, r.reported) for r in ics_records(text, path, problems)]


# --- one entry ---


def _entry(
    record: Mapping[str, Any],
    path: str,
    line: int | None,
    problems: list[Problem],
    missing: frozenset[str] = frozenset(),
    people: PeopleMap | None = None,
) -> Entry | None:
    before = len(problems)

    def bad(field: str, message: str) -> None:
        problems.append(Problem(path, line, field, message))

    for name in record:
        if name not in FIELDS:
            bad(str(name), "unknown field")
    values: dict[str, Any] = {}
    for name in FIELDS:
        raw = record.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if name in _REQUIRED and name not in missing:
                bad(name, "is required")
            continue
        try:
            values[name] = _READERS[name](raw)
        except ValueError as exc:
            bad(name, str(exc))
    _resolve_people(values, people, bad)

    repeat = values.get("repeat", Repeat.NONE)
    until = values.get("repeat_until")
    if "repeat" in record and "repeat" not in values:
        pass  # an unreadable rule is reported already; its other checks would only echo it
    elif repeat is not Repeat.NONE:
        if "repeat_until" not in values and "repeat_until" not in record:
            bad("repeat_until", f"is required with repeat {record.get('repeat')!r}")
        for name in _SINGLE_ONLY:
            if name in values:
                bad(
                    name,
                    "is not supported for a repeating meeting (repeatMeeting has no such field)",
                )
    elif until is not None:
        bad("repeat_until", "needs a repeat rule other than 'none'")

    if len(problems) > before or any(name not in values for name in _REQUIRED):
        return None  # (a required column missing from a CSV header is reported once, there)
    common: dict[str, Any] = {
        "openid": values["openid"],
        "title": values["title"],
        "start_date": values["start"],
        "end_date": values["end"],
        "content": values.get("content"),
        "notice_time": values.get("reminder"),
        "top_state": values.get("important"),
        "actors": values.get("attendees") or None,
        "submit_experience": values.get("minutes_required"),
    }
    model: CreateMeeting | RepeatMeeting
    try:
        if repeat is Repeat.NONE:
            model = CreateMeeting(
                **common,
                meeting_place=values.get("place"),
                room_id=values.get("room_id"),
                type=values.get("type"),
            )
        else:
            model = RepeatMeeting(
                **common, repeat=repeat, repeat_end_date=_until_instant(until, values["start"])
            )
    except ValidationError as exc:
        head, _, rest = exc.field.partition("[")
        field = _MODEL_FIELDS.get(head, head) + (f"[{rest}" if rest else "")
        bad(field, exc.message)
        return None
    return Entry(key=values["key"], model=model, path=path, line=line)


def _resolve_people(
    values: dict[str, Any], people: PeopleMap | None, bad: Callable[[str, str], None]
) -> None:
    """Email addresses (``mailto:`` or bare) to oids through the people map."""
    if "openid" in values:
        try:
            values["openid"] = resolve_person(values["openid"], people)
        except ValueError as exc:
            del values["openid"]
            bad("openid", str(exc))
    if "attendees" in values:
        oids: list[str] = []
        for i, item in enumerate(values["attendees"]):
            try:
                oids.append(resolve_person(item, people))
            except ValueError as exc:
                bad("attendees", f"item {i + 1}: {exc}")
        if len(oids) == len(values["attendees"]):
            values["attendees"] = tuple(dict.fromkeys(oids))
        else:
            del values["attendees"]


def _until_instant(until: date | datetime | None, start: datetime) -> datetime:
    if isinstance(until, datetime):
        return until
    assert until is not None
    # A bare date means that whole day in the service's calendar: its last second.
    return datetime.combine(until, time(23, 59, 59), SHANGHAI)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_kind(value)}")
    return value.strip()


def _instant(value: Any) -> datetime:
    text = _string(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not an ISO 8601 date and time: {text!r} (write e.g. 2026-12-01T09:30:00+08:00)"
        ) from None
    if "T" not in text.upper() and " " not in text:
        raise ValueError(f"{text!r} has no time of day (write e.g. {text}T09:30:00+08:00)")
    if moment.utcoffset() is None:
        raise ValueError(
            f"naive time {text!r}: add the UTC offset, e.g. {text}+08:00 (Asia/Shanghai)"
        )
    return moment


def _until(value: Any) -> date | datetime:
    text = _string(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    return _instant(text)


def _attendees(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(";") if part.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"must be a list of oids, got {_kind(value)}")
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"item {i + 1} must be a non-empty oid, got {item!r}")
        out.append(item.strip())
    return tuple(dict.fromkeys(out))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"must be true or false, got {value!r}")


def _reminder(value: Any) -> NoticeTime:
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = value
    if type(number) is int and number in NoticeTime._value2member_map_:
        return NoticeTime(number)
    raise ValueError(f"must be one of -1, 0, 15, 60 (minutes before the start), got {value!r}")


def _type(value: Any) -> MeetingType:
    text = _string(value).lower()
    try:
        return MeetingType(text)
    except ValueError:
        raise ValueError(f"must be 'sign' or 'voice' (or empty), got {value!r}") from None


def _repeat(value: Any) -> Repeat:
    text = _string(value).lower()
    rule = REPEAT_NAMES.get(text)
    if rule is None:
        raise ValueError(f"must be one of {', '.join(REPEAT_NAMES)}, got {value!r}")
    return rule


def _text(value: Any) -> str:
    text = _string(value)
    if not text:
        raise ValueError("must not be empty")
    return text


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_kind(value)}")
    return value


_READERS: dict[str, Any] = {
    "key": _text,
    "openid": _text,
    "title": _text,
    "start": _instant,
    "end": _instant,
    "attendees": _attendees,
    "content": _optional_text,
    "place": _optional_text,
    "room_id": _text,
    "reminder": _reminder,
    "important": _flag,
    "type": _type,
    "minutes_required": _flag,
    "repeat": _repeat,
    "repeat_until": _until,
}
