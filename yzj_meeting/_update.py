"""Read-modify-write: the full-replace ``modify`` body that changes only the named fields.

Pure: from a ``MeetingDetail`` (what ``detail`` answered) and the caller's changes to a
``ModifyMeeting`` or ``BatchModify`` carrying every other field as it was read. ``modify`` is a
full replace, so a field not re-sent would be cleared; this is why it starts from ``detail``.
"""

from __future__ import annotations

from typing import Any

import attrs

from .details import MeetingDetail
from .errors import ValidationError
from .models import BatchModify, ModifyMeeting, NoticeTime

__all__ = ["modify_from_detail"]

# Fields ``update_meeting`` computes itself: the attendee diff and the series' identity.
_DERIVED = frozenset({"id", "add_actors", "del_actors", "batch_id"})


def _current(detail: MeetingDetail, name: str) -> Any:
    """The value of ``name`` as ``detail`` shows it (``None`` when detail does not show it)."""
    if name == "actors":
        return tuple(p.openid for p in detail.participants if p.openid)
    if name == "notice_time":
        # ``detail`` shows ``noticeTimes``; a single documented value maps back to ``noticeTime``
        # (several values are carried as ``notice_times`` when the model has that field).
        values = detail.notice_times or ()
        if len(values) == 1 and values[0] in set(NoticeTime):
            return NoticeTime(values[0])
        return None
    if name == "notice_times":
        values = detail.notice_times or ()
        return None if len(values) <= 1 else tuple(int(v) for v in values)
    if name == "meet_organizers":
        ids = tuple(o.openid for o in detail.organizers if o.openid)
        return ids or None
    if name == "encryption":
        # ``detail`` shows ``false`` for a meeting created without it: re-send only ``true``.
        return True if detail.encryption else None
    value = getattr(detail, name, None)
    return value if value != () else None


def modify_from_detail(
    detail: MeetingDetail, changes: dict[str, Any], *, batch: bool = False
) -> ModifyMeeting | BatchModify:
    """The ``modify`` (``batch``: ``batchModify``) of ``detail`` with ``changes`` applied.

    ``changes`` are keyword names of the model's fields; an unknown one, or one of ``id``,
    ``add_actors``, ``del_actors``, ``batch_id``, is a ``ValidationError`` naming it.
    ``actors`` given: the attendee fields come from ``diff_actors`` against the participants read.
    """
    cls: type[ModifyMeeting] | type[BatchModify] = BatchModify if batch else ModifyMeeting
    names = [f.name for f in attrs.fields(cls)]
    for name in changes:
        if name not in names or name in _DERIVED:
            raise ValidationError(
                name, f"cannot be changed through update_meeting ({cls.__name__})"
            )
    fields: dict[str, Any] = {
        name: changes[name] if name in changes else _current(detail, name)
        for name in names
        if name not in _DERIVED
    }
    if "notice_time" in changes and "notice_times" in fields and "notice_times" not in changes:
        fields["notice_times"] = None  # the caller chose one notice time over the list read
    if "notice_times" in changes and "notice_time" not in changes:
        fields["notice_time"] = None
    if batch and detail.batch_id and detail.batch_id != detail.id:
        fields["batch_id"] = detail.batch_id
    old = _current(detail, "actors")
    new = fields.pop("actors")
    if "actors" in changes:
        return cls.from_attendees(old, new or (), id=detail.id, **fields)
    return cls(id=detail.id, actors=new, **fields)
