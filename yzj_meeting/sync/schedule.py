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
  `EXDATE` become a Yunzhijia series only when exact (its `EXDATE`s cancelled once it is
  created: :mod:`yzj_meeting.sync.exclusions`), else one single meeting per occurrence
  (:mod:`yzj_meeting.sync.recurrence`). Events with `STATUS:CANCELLED` are left out.

Files are read through :mod:`yzj_meeting.sync.safe_read` (regular files only, size cap,
control characters, duplicate JSON keys, ...); CSVs may be `,`, `;` or tab separated.
Every problem of a file is reported at once, in one ``ScheduleError`` listing each as
``file:line: field: message``; nothing is sent when a file has any.
"""

from __future__ import annotations

import os
from pathlib import Path

from .entry import (
    FIELDS,
    REPEAT_NAMES,
    Entry,
    Problem,
    ScheduleError,
    collect_entries,
    fingerprint,
    parse_entry,
)
from .formats import by_extension, formats
from .people import PeopleMap
from .safe_read import check_text, read_text

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


def load_schedule(
    path: str | os.PathLike[str], *, format: str | None = None, people: PeopleMap | None = None
) -> list[Entry]:
    """Read and check a schedule file; raises ``ScheduleError`` listing every problem.

    ``format`` is a registered format name (``json``, ``jsonl``, ``csv``, ``ics``); by default
    it follows the file's extension. ``people`` resolves creators and attendees given as email
    addresses.
    """
    name = os.fspath(path)
    fmt = by_extension(format or Path(name).suffix)
    if fmt is None:
        raise ScheduleError([Problem(name, None, None, f"unknown format: use {_known()}")])
    problems: list[Problem] = []
    text = read_text(name, problems)
    if text is None:
        raise ScheduleError(problems)
    return parse_schedule(text, fmt.name, path=name, people=people)


def parse_schedule(
    text: str, format: str, *, path: str = "<schedule>", people: PeopleMap | None = None
) -> list[Entry]:
    """Check a schedule given as text in ``format`` (``json``, ``jsonl``, ``csv``, ``ics``)."""
    fmt = by_extension(format)
    if fmt is None:
        raise ValueError(f"unknown schedule format {format!r}")
    problems: list[Problem] = []
    if not check_text(text, path, problems):
        raise ScheduleError(problems)  # a control character or lone surrogate: nothing else
    entries = collect_entries(fmt.read(text, path, problems), path, problems, people)
    if problems:
        problems.sort(key=lambda p: p.line or 0)  # stable: a line's problems keep their order
        raise ScheduleError(problems)
    return entries


def _known() -> str:
    names = [f".{f.name}" for f in formats()]
    return f"a {', '.join(names[:-1])} or {names[-1]} file"
