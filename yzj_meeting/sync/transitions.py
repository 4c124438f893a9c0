"""How a journal row changes at each step: one rule per step, shared by every journal.

Each function takes the row as stored (or ``None``) and answers the row to store (``None``:
delete it), or raises ``JournalError`` for a step out of order.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..errors import YzjError
from .rows import Intent, JournalRow, applied

__all__ = ["JournalError", "adopted", "begun", "failed", "resumed", "succeeded"]


class JournalError(YzjError):
    """The journal cannot be used (wrong file, or a step out of order)."""


def begun(key: str, row: JournalRow | None, intent: Intent) -> JournalRow:
    if row is not None and row.in_doubt:
        raise JournalError(f"{key!r}: resolve the {row.pending} in doubt first")
    if intent.op == "create":
        if row is not None:
            raise JournalError(f"{key!r}: already mapped to a meeting")
        if intent.openid is None:
            raise JournalError("a create intent needs openid")
        return JournalRow(
            key=key,
            series=intent.series,
            openid=intent.openid,
            meeting_type=intent.meeting_type,
            meeting_id=None,
            ids=(),
            fingerprint=None,
            attendees=(),
            maybe_attendees=None,
            starts=(),
            pending="create",
            intent=intent,
        )
    if row is None or row.meeting_id is None:
        raise JournalError(f"{key!r}: no meeting to {intent.op}")
    return attrs.evolve(row.settled(), pending=intent.op, intent=intent)


def succeeded(key: str, row: JournalRow | None, ids: Sequence[str]) -> JournalRow | None:
    if row is None or row.pending is None or row.intent is None:
        raise JournalError(f"{key!r}: no pending call")
    intent = row.intent
    if row.pending == "cancel":
        return None
    if row.pending == "create":
        if not ids:
            raise JournalError(f"{key!r}: a create outcome needs the meeting id")
        row = attrs.evolve(row, meeting_id=ids[0], ids=tuple(ids))
    return applied(row, intent)


def failed(row: JournalRow | None) -> JournalRow | None:
    if row is None or row.pending is None:
        return row
    if row.pending == "create":
        return None
    return attrs.evolve(row, pending=None, intent=None)


def adopted(key: str, row: JournalRow | None, meeting_id: str) -> JournalRow:
    if row is None or row.pending != "create" or row.intent is None:
        raise JournalError(f"{key!r}: no create in doubt")
    return applied(attrs.evolve(row, meeting_id=meeting_id, ids=(meeting_id,)), row.intent)


def resumed(key: str, row: JournalRow | None) -> JournalRow:
    if row is None or row.pending != "cancel":
        raise JournalError(f"{key!r}: no cancel in doubt")
    return attrs.evolve(row, pending=None, intent=None)
