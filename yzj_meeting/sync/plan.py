"""The sync plan: what to send so that the service matches the schedule (pure, no I/O).

``plan(entries, rows, prune=...)`` compares the desired entries with the journal rows and gives
one ``Action`` per key: create a new key, modify a changed one (a full replace carrying every
field), cancel a key gone from the schedule (only with ``prune``), leave an unchanged one alone,
or first look at the service when the journal holds a create or cancel in doubt.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._convert import to_ms
from ..models import (
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    ModifyMeeting,
    RepeatMeeting,
)
from .entry import FINGERPRINT_VERSION, Entry, legacy_fingerprint
from .exclusions import settled, to_cancel
from .journal import Intent, JournalRow
from .match import signature

__all__ = [
    "Action",
    "ActionKind",
    "MeetingRequest",
    "cancel_request",
    "count",
    "intent_for",
    "legacy_match",
    "modify_request",
    "plan",
    "plan_key",
    "stale_fingerprints",
]

MeetingRequest = (
    CreateMeeting | RepeatMeeting | ModifyMeeting | BatchModify | CancelMeeting | BatchCancel
)
"""Any request model a sync sends."""


class ActionKind(enum.StrEnum):
    """What a sync does for one key."""

    CREATE = "create"
    """New key: ``create`` (or ``repeatMeeting`` for a series)."""
    MODIFY = "modify"
    """Changed entry: ``modify`` (or ``batchModify`` on the series' parent)."""
    REPLACE = "replace"
    """Changed in what a modify cannot change (single/series, creator, type): cancel, create."""
    CANCEL = "cancel"
    """Key gone from the schedule, with prune: ``cancel`` (or ``batchCancel`` on the parent)."""
    EXCLUDE = "exclude"
    """The series is as the entry says but some excluded occurrences (EXDATE) are not
    cancelled yet: ``cancel`` each (see ``yzj_meeting.sync.exclusions``)."""
    UNCHANGED = "unchanged"
    """Nothing to send."""
    KEEP = "keep"
    """Key gone from the schedule, without prune: left as it is."""
    RECONCILE = "reconcile"
    """A create or cancel in doubt: look at the service, then plan the key again."""


@attrs.frozen
class Action:
    """One key's step: its ``kind``, the desired ``entry`` (``None`` when gone from the
    schedule), the journal ``row`` (``None`` for a new key) and the request(s) to send:
    ``request`` (create, modify or cancel) and, for a replace, ``cancel`` sent before it."""

    kind: ActionKind
    key: str
    entry: Entry | None = None
    row: JournalRow | None = None
    request: MeetingRequest | None = None
    cancel: CancelMeeting | BatchCancel | None = None

    @property
    def title(self) -> str | None:
        """The meeting's title, for display."""
        if self.entry is not None:
            return self.entry.model.title
        if self.row is not None and self.row.intent is not None:
            return self.row.intent.title
        return None


def plan(
    entries: Iterable[Entry], rows: Mapping[str, JournalRow], *, prune: bool = False
) -> list[Action]:
    """One action per key: the schedule's keys in order, then the journal's other keys."""
    actions: list[Action] = []
    wanted: set[str] = set()
    for entry in entries:
        wanted.add(entry.key)
        actions.append(plan_key(entry.key, entry, rows.get(entry.key), prune=prune))
    for key, row in rows.items():
        if key not in wanted:
            actions.append(plan_key(key, None, row, prune=prune))
    return actions


def plan_key(
    key: str, entry: Entry | None, row: JournalRow | None, *, prune: bool = False
) -> Action:
    """The action for one key, from its desired ``entry`` and its journal ``row``."""
    if row is not None and row.in_doubt:
        return Action(ActionKind.RECONCILE, key, entry, row)
    if row is not None:
        row = settled(row)
    if entry is None:
        if row is None or row.meeting_id is None:
            return Action(ActionKind.UNCHANGED, key)
        if not prune:
            return Action(ActionKind.KEEP, key, None, row)
        return Action(ActionKind.CANCEL, key, None, row, cancel=cancel_request(row))
    if row is None or row.meeting_id is None:
        return Action(ActionKind.CREATE, key, entry, row, entry.model)
    model = entry.model
    if (
        row.series != entry.is_series
        or row.openid != model.openid
        or (isinstance(model, CreateMeeting) and row.meeting_type != _type_name(model))
    ):
        return Action(ActionKind.REPLACE, key, entry, row, model, cancel_request(row))
    if row.fingerprint == entry.fingerprint or legacy_match(row, entry):
        return Action(ActionKind.UNCHANGED, key, entry, row)
    if entry.excluded and to_cancel(entry, row):
        return Action(ActionKind.EXCLUDE, key, entry, row)
    return Action(ActionKind.MODIFY, key, entry, row, modify_request(entry, row))


def legacy_match(row: JournalRow, entry: Entry) -> bool:
    """Whether ``row`` holds an older version's fingerprint of exactly ``entry``'s meeting
    (the sync then rewrites it in the current version, once)."""
    found = row.fingerprint
    return (
        found is not None
        and not found.startswith(FINGERPRINT_VERSION + ":")
        and found == legacy_fingerprint(entry.model)
    )


def stale_fingerprints(actions: Iterable[Action]) -> dict[str, tuple[str, str]]:
    """``{key: (old, new)}`` for the unchanged keys whose row holds a legacy fingerprint."""
    stale: dict[str, tuple[str, str]] = {}
    for action in actions:
        row, entry = action.row, action.entry
        if action.kind is not ActionKind.UNCHANGED or row is None or entry is None:
            continue
        if row.fingerprint is not None and row.fingerprint != entry.fingerprint:
            stale[action.key] = (row.fingerprint, entry.fingerprint)
    return stale


def modify_request(entry: Entry, row: JournalRow) -> ModifyMeeting | BatchModify:
    """The full-replace modify that makes ``row``'s meeting what ``entry`` says.

    Attendees go through ``from_attendees(old, new)``. After a modify whose outcome was lost,
    the old list is uncertain: then everyone who may be invited and is not wanted is removed
    and everyone wanted who is not surely invited is added.
    """
    assert row.meeting_id is not None
    model = entry.model
    fields: dict[str, Any] = {
        "id": row.meeting_id,
        "openid": model.openid,
        "title": model.title,
        "start_date": model.start_date,
        "end_date": model.end_date,
        "content": model.content,
        "notice_time": model.notice_time,
        "top_state": model.top_state,
        "submit_experience": model.submit_experience,
    }
    cls: type[ModifyMeeting] | type[BatchModify]
    if isinstance(model, RepeatMeeting):
        fields["repeat"] = model.repeat
        fields["repeat_end_date"] = model.repeat_end_date
        cls = BatchModify
    else:
        fields["meeting_place"] = model.meeting_place
        fields["room_id"] = model.room_id
        cls = ModifyMeeting
    new = entry.attendees
    if row.maybe_attendees is None:
        return cls.from_attendees(row.attendees, new, **fields)
    sure, maybe = set(row.attendees), row.maybe_attendees
    return cls(
        **fields,
        actors=new,
        add_actors=tuple(a for a in new if a not in sure),
        del_actors=tuple(a for a in maybe if a not in set(new)),
    )


def cancel_request(row: JournalRow) -> CancelMeeting | BatchCancel:
    """The cancel of ``row``'s meeting: the whole series for a series (through its parent)."""
    assert row.meeting_id is not None
    if row.series:
        return BatchCancel(id=row.meeting_id, openid=row.openid)
    return CancelMeeting(id=row.meeting_id, openid=row.openid)


def intent_for(op: str, entry: Entry) -> Intent:
    """The journal intent of creating or modifying ``entry``'s meeting."""
    model = entry.model
    assert op in ("create", "modify")
    return Intent(
        op="create" if op == "create" else "modify",
        # Without the exclusions: those are journaled one cancel at a time after the call.
        fingerprint=entry.base_fingerprint,
        attendees=entry.attendees,
        openid=model.openid,
        title=model.title,
        start=to_ms(model.start_date),
        end=to_ms(model.end_date),
        series=entry.is_series,
        meeting_type=_type_name(model) if isinstance(model, CreateMeeting) else None,
        signature=signature(model) if op == "create" else None,
    )


def count(actions: Iterable[Action]) -> dict[str, int]:
    """What ``actions`` would do, as the sync summary counts (a dry run).

    A key in doubt is counted as what it most likely becomes: created when it is in the
    schedule, cancelled when it is gone and pruned.
    """
    counts = {"created": 0, "modified": 0, "cancelled": 0, "unchanged": 0, "failed": 0}
    for action in actions:
        kind = action.kind
        if kind is ActionKind.CREATE:
            counts["created"] += 1
        elif kind in (ActionKind.MODIFY, ActionKind.REPLACE, ActionKind.EXCLUDE):
            counts["modified"] += 1
        elif kind is ActionKind.CANCEL:
            counts["cancelled"] += 1
        elif kind is ActionKind.UNCHANGED and action.entry is not None:
            counts["unchanged"] += 1
        elif kind is ActionKind.RECONCILE:
            row = action.row
            if action.entry is not None:
                key = "created" if row is not None and row.pending == "create" else "unchanged"
                counts[key] += 1
            elif row is not None and row.pending == "cancel":
                counts["cancelled"] += 1
    return counts


def _type_name(model: CreateMeeting) -> str | None:
    return model.type.value if model.type is not None else None
