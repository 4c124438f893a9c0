"""What the service would report of a meeting, as one comparable value (pure, no I/O).

``signature(model)`` is computed from a create or repeatMeeting request, ``service_signature``
from what ``queryByDay`` and ``meeting/detail`` report of a live meeting: equal exactly when the
service holds that meeting on every field it reports (creator, title, times, content, place,
room, type, reminders, attendees, organisers, minutes, and for a series its rule and the
Shanghai day of its repeat end, which fix its occurrences). ``topState`` is reported by no read
and is not part of it (``Probe.important`` checks it where a server's detail sends it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .._convert import to_ms
from ..details import MeetingDetail
from ..models import SHANGHAI, CreateMeeting, MeetingInfo, RepeatMeeting

__all__ = ["service_signature", "signature"]


def _digest(fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "s1:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _ids(values: Iterable[str] | None) -> list[str]:
    return sorted({v for v in values or () if v})


def _ints(values: Iterable[Any] | None) -> list[str]:
    """Reminder minutes, as text (a value the SDK does not know stays comparable)."""
    out = set()
    for value in values or ():
        try:
            out.add(str(int(value)))
        except (TypeError, ValueError):
            out.add(str(value))
    return sorted(out)


def _last_day(until: datetime) -> str:
    """The Shanghai day of a repeat end: the series' occurrences depend on it alone."""
    return until.astimezone(SHANGHAI).date().isoformat()


def signature(model: CreateMeeting | RepeatMeeting) -> str:
    """What the service would report of the meeting ``model`` creates, as one comparable value.

    Empty and absent are the same (``""``/``None``, ``False``/``None``, ``[]``/``None``), as
    the service does not tell them apart.
    """
    single = isinstance(model, CreateMeeting)
    if model.notice_times is not None:
        reminders = _ints(model.notice_times)
    else:
        reminders = _ints(() if model.notice_time is None else (model.notice_time,))
    fields: dict[str, Any] = {
        "kind": "single" if single else "series",
        "openid": model.openid,
        "title": model.title,
        "start": to_ms(model.start_date),
        "end": to_ms(model.end_date),
        "content": model.content or None,
        "reminders": reminders,
        "actors": _ids(model.actors),
        "minutes": bool(model.submit_experience),
        "organizers": _ids(model.meet_organizers),
        "encryption": bool(model.encryption),
        "shares": _ids(model.share_ids),
    }
    if isinstance(model, CreateMeeting):
        fields.update(
            place=model.meeting_place or None,
            room=model.room_id or None,
            type=model.type.value if model.type is not None else None,
            agent=model.agent or None,
        )
    else:
        fields.update(
            place=None,
            room=None,
            type=None,
            agent=None,
            repeat=int(model.repeat),
            until=_last_day(model.repeat_end_date),
        )
    return _digest(fields)


def service_signature(info: MeetingInfo, detail: MeetingDetail) -> str:
    """The ``signature`` of the meeting the service reports in ``info`` and ``detail``."""
    repeat = int(detail.repeat or 0)
    if detail.batch_id:
        kind = "series" if detail.batch_id == detail.id and repeat else "occurrence"
    else:
        kind = "single"
    if detail.notice_times is not None:
        reminders = _ints(detail.notice_times)
    elif info.notice_times is not None:
        reminders = _ints(info.notice_times)
    else:
        reminders = _ints(() if info.notice_time is None else (info.notice_time,))
    kind_value = detail.type if detail.type is not None else info.type
    fields: dict[str, Any] = {
        "kind": kind,
        "openid": detail.openid or info.openid,
        "title": detail.title or info.title,
        "start": to_ms(info.start_date),
        "end": to_ms(info.end_date),
        "content": detail.content or info.content or None,
        "reminders": reminders,
        "actors": _ids(detail.actor_ids),
        "minutes": bool(detail.submit_experience),
        "place": detail.meeting_place or info.meeting_place or None,
        "room": detail.room_id or info.room_id or None,
        "type": str(getattr(kind_value, "value", kind_value)) if kind_value else None,
        "organizers": _ids(detail.organizer_ids),
        "encryption": bool(detail.encryption),
        "shares": _ids(detail.share_ids),
        "agent": detail.agent or None,
    }
    if kind == "series":
        until = detail.repeat_end_date
        fields.update(repeat=repeat, until=_last_day(until) if until is not None else None)
    return _digest(fields)
