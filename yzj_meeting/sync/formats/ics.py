"""``.ics`` (the ``ics`` extra): one meeting per ``VEVENT``; see ``yzj_meeting.sync.ics_events``."""

from __future__ import annotations

from ..entry import Problem, Record
from ..ics_events import ics_records
from ._registry import register

__all__ = ["read"]


@register("ics", "ical", "ifb")
def read(text: str, path: str, problems: list[Problem]) -> list[Record]:
    """One meeting per ``VEVENT`` (needs the ``ics`` extra); recurrences exact or expanded."""
    return [(r.line, r.fields, r.reported) for r in ics_records(text, path, problems)]
