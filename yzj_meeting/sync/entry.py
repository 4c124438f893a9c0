"""One schedule entry: the fields a meeting may have, their checks, and the problems found.

Every format reader (``yzj_meeting.sync.formats``) turns a file into records (a line and a
mapping of field names to raw values); this module checks each record and makes it an
``Entry``. ``fingerprint`` is a stable hash of what an entry asks for, which the journal keeps
to see what changed since the last sync.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import attrs

from .._convert import to_ms, unstructure
from ..errors import ValidationError
from ..models import (
    SHANGHAI,
    CreateMeeting,
    MeetingType,
    NoticeTime,
    Repeat,
    RepeatMeeting,
)
from .exclusions import encode
from .ics_events import EXCLUDED, NOTE
from .people import PeopleMap, resolve_person
from .problems import Problem
from .recurrence import series_occurrences

__all__ = [
    "FIELDS",
    "REPEAT_NAMES",
    "REQUIRED",
    "Entry",
    "Problem",
    "Record",
    "ScheduleError",
    "collect_entries",
    "fingerprint",
    "legacy_fingerprint",
    "parse_entry",
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

REQUIRED = ("key", "openid", "title", "start", "end")
SINGLE_ONLY = ("place", "room_id", "type")

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
    """Why the entry is one of an event's occurrences (``expanded: ...``), or which
    occurrences of the series are cancelled after it is created, if any."""
    excluded: tuple[datetime, ...] = ()
    """A series' occurrences (their starts, in order) cancelled after it is created (EXDATE)."""

    @property
    def is_series(self) -> bool:
        """Whether the entry is a repeating meeting (created with ``repeatMeeting``)."""
        return isinstance(self.model, RepeatMeeting)

    @property
    def attendees(self) -> tuple[str, ...]:
        """The attendee oids (empty when none)."""
        return self.model.actors or ()

    @functools.cached_property
    def fingerprint(self) -> str:
        """A stable hash of what the entry asks for (see :func:`fingerprint`), followed by
        the starts of its excluded occurrences, if any (see ``yzj_meeting.sync.exclusions``);
        computed once."""
        return encode(self.base_fingerprint, self.excluded)

    @functools.cached_property
    def base_fingerprint(self) -> str:
        """The fingerprint of the meeting or series alone, without its exclusions."""
        return fingerprint(self.model)

    @property
    def where(self) -> str:
        """``file:line`` of the entry."""
        return self.path if self.line is None else f"{self.path}:{self.line}"


FINGERPRINT_VERSION = "v2"
"""Prefix of the fingerprints this version writes; a journal row without it has a legacy one."""


def fingerprint(model: CreateMeeting | RepeatMeeting) -> str:
    """A stable hash of what a create or repeatMeeting request asks for: ``v2:`` + 32 hex.

    Computed from the model's own fields (not from their wire encoding, so a change in how a
    field is sent does not make every meeting look changed). Equal for equal meetings whatever
    the offset the times were written in; attendee order does not count (the service keeps a
    set of attendees); a field left out and a field set to ``None`` are the same.
    """
    body: dict[str, Any] = {"@kind": "series" if isinstance(model, RepeatMeeting) else "single"}
    for field in attrs.fields(type(model)):
        value = getattr(model, field.name)
        if value is not None:
            body[field.name] = _canonical(value)
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{FINGERPRINT_VERSION}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | set | frozenset):
        return sorted({str(item) for item in value})
    return value


def legacy_fingerprint(model: CreateMeeting | RepeatMeeting) -> str:
    """The fingerprint of versions before ``v2`` (a hash of the wire body), to recognise the
    rows of an older journal once, so that an upgrade does not modify every meeting."""
    body = unstructure(model)
    if "actors" in body:
        body["actors"] = sorted(set(body["actors"]))
    body["@kind"] = "series" if isinstance(model, RepeatMeeting) else "single"
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_entry(
    record: Mapping[str, Any], *, path: str = "<arguments>", line: int | None = None
) -> Entry:
    """Check one meeting given as a mapping of schedule fields; ``ScheduleError`` if wrong."""
    problems: list[Problem] = []
    entry = _entry(record, path, line, problems)
    if problems or entry is None:
        raise ScheduleError(problems)
    return entry


Record = tuple[int | None, Any, frozenset[str]]
"""What a format reader yields: the line, the record, the fields already reported missing."""


def collect_entries(
    records: Iterable[Record],
    path: str,
    problems: list[Problem],
    people: PeopleMap | None = None,
) -> list[Entry]:
    """The entries of ``records``; each problem (and each duplicate key) added to ``problems``.

    ``people`` resolves creators and attendees given as email addresses.
    """
    entries: list[Entry] = []
    seen: dict[str, int | None] = {}
    for line, record, missing in records:
        if not isinstance(record, Mapping):
            problems.append(
                Problem(path, line, None, f"a meeting must be an object, got {kind_of(record)}")
            )
            continue
        note, excluded = record.get(NOTE), record.get(EXCLUDED)
        if note is not None or excluded is not None:
            record = {k: v for k, v in record.items() if k not in (NOTE, EXCLUDED)}
        entry = _entry(record, path, line, problems, missing, people)
        if entry is not None and note is not None:
            entry = attrs.evolve(entry, note=str(note))
        if entry is not None and excluded is not None:
            entry = _with_excluded(entry, excluded, problems)
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


def _with_excluded(entry: Entry, excluded: Any, problems: list[Problem]) -> Entry | None:
    """``entry`` with its excluded occurrences (ISO instants, each a later occurrence of the
    series), or ``None`` with a problem."""
    model = entry.model

    def bad(message: str) -> None:
        problems.append(Problem(entry.path, entry.line, "repeat", message))

    if not isinstance(model, RepeatMeeting) or not isinstance(excluded, list):
        bad("excluded occurrences need a series (a list of its occurrence starts)")
        return None
    try:
        starts = sorted({_instant(item).astimezone(UTC) for item in excluded})
    except ValueError as exc:
        bad(f"excluded occurrence: {exc}")
        return None
    occurrences = set(series_occurrences(model.start_date, model.repeat, model.repeat_end_date))
    for start in starts:
        if start not in occurrences or start == model.start_date:
            bad(f"excluded {start.isoformat()} is not a later occurrence of the series")
            return None
    return attrs.evolve(entry, excluded=tuple(starts))


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

    values = _values(record, missing, bad)
    _resolve_people(values, people, bad)
    _check_repeat(record, values, bad)
    if len(problems) > before or any(name not in values for name in REQUIRED):
        return None  # (a required column missing from a CSV header is reported once, there)
    try:
        model = _model(values)
    except ValidationError as exc:
        head, _, rest = exc.field.partition("[")
        bad(_MODEL_FIELDS.get(head, head) + (f"[{rest}" if rest else ""), exc.message)
        return None
    return Entry(key=values["key"], model=model, path=path, line=line)


def _values(
    record: Mapping[str, Any], missing: frozenset[str], bad: Callable[[str, str], None]
) -> dict[str, Any]:
    """The record's fields read (unknown, missing and unreadable ones reported)."""
    for name in record:
        if name not in FIELDS:
            bad(str(name), "unknown field")
    values: dict[str, Any] = {}
    for name in FIELDS:
        raw = record.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if name in REQUIRED and name not in missing:
                bad(name, "is required")
            continue
        try:
            values[name] = _READERS[name](raw)
        except ValueError as exc:
            bad(name, str(exc))
    return values


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


def _check_repeat(
    record: Mapping[str, Any], values: Mapping[str, Any], bad: Callable[[str, str], None]
) -> None:
    if "repeat" in record and "repeat" not in values:
        return  # an unreadable rule is reported already; its other checks would only echo it
    if values.get("repeat", Repeat.NONE) is not Repeat.NONE:
        if "repeat_until" not in values and "repeat_until" not in record:
            bad("repeat_until", f"is required with repeat {record.get('repeat')!r}")
        for name in SINGLE_ONLY:
            if name in values:
                bad(
                    name,
                    "is not supported for a repeating meeting (repeatMeeting has no such field)",
                )
    elif values.get("repeat_until") is not None:
        bad("repeat_until", "needs a repeat rule other than 'none'")


def _model(values: Mapping[str, Any]) -> CreateMeeting | RepeatMeeting:
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
    repeat = values.get("repeat", Repeat.NONE)
    if repeat is Repeat.NONE:
        return CreateMeeting(
            **common,
            meeting_place=values.get("place"),
            room_id=values.get("room_id"),
            type=values.get("type"),
        )
    until = _until_instant(values.get("repeat_until"), values["start"])
    return RepeatMeeting(**common, repeat=repeat, repeat_end_date=until)


def _until_instant(until: date | datetime | None, start: datetime) -> datetime:
    if isinstance(until, datetime):
        return until
    assert until is not None
    # A bare date means that whole day in the service's calendar: its last second.
    return datetime.combine(until, time(23, 59, 59), SHANGHAI)


def kind_of(value: Any) -> str:
    """How a value is named in a problem: ``a string``, ``a number``, ``null``..."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {kind_of(value)}")
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
        raise ValueError(f"must be a list of oids, got {kind_of(value)}")
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
        raise ValueError(f"must be a string, got {kind_of(value)}")
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
