"""What the journal keeps per key: the ``JournalRow``, and the ``Intent`` of a call in flight."""

from __future__ import annotations

import json
from typing import Literal

import attrs

__all__ = ["Intent", "JournalRow", "Op", "applied"]

Op = Literal["create", "modify", "cancel"]


@attrs.frozen
class Intent:
    """A call about to be sent for a key, as the journal records it before sending.

    For a create or modify it describes the meeting the call leaves behind: its
    ``fingerprint``, ``attendees``, creator, title and times (epoch ms).
    Stored as JSON; fields an older version did not write take their default.
    """

    op: Op
    fingerprint: str | None = None
    attendees: tuple[str, ...] = ()
    openid: str | None = None
    title: str | None = None
    start: int | None = None
    end: int | None = None
    series: bool = False
    meeting_type: str | None = None
    signature: str | None = None
    """A create's ``adopt.signature``: recognises exactly its meeting if it was made (absent
    in intents of older versions)."""

    def to_json(self) -> str:
        """The intent as stored."""
        return json.dumps(
            {**attrs.asdict(self), "attendees": list(self.attendees)}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> Intent:
        """An intent as stored."""
        data = json.loads(text)
        data["attendees"] = tuple(data.get("attendees") or ())
        return cls(**data)


@attrs.frozen
class JournalRow:
    """What the journal knows about one key."""

    key: str
    series: bool
    openid: str
    meeting_type: str | None
    meeting_id: str | None
    ids: tuple[str, ...]
    fingerprint: str | None
    attendees: tuple[str, ...]
    maybe_attendees: tuple[str, ...] | None
    starts: tuple[int, ...]
    pending: Op | None
    intent: Intent | None

    @property
    def in_doubt(self) -> bool:
        """A create or cancel was sent and its outcome is unknown: look before acting."""
        return self.pending in ("create", "cancel")

    def settled(self) -> JournalRow:
        """This row with an unconfirmed modify folded in: either content may be on the server."""
        if self.pending != "modify" or self.intent is None:
            return self
        new = self.intent.attendees
        sure = tuple(a for a in self.attendees if a in set(new))
        maybe = tuple(dict.fromkeys((*(self.maybe_attendees or self.attendees), *new)))
        starts = self.starts
        if self.intent.start is not None and self.intent.start not in starts:
            starts = (*starts, self.intent.start)
        return attrs.evolve(
            self,
            fingerprint=None,
            attendees=sure,
            maybe_attendees=maybe if maybe != sure else None,
            starts=starts,
            pending=None,
            intent=None,
        )


def applied(row: JournalRow, intent: Intent) -> JournalRow:
    """``row`` once ``intent`` (a create or modify) is known to be on the server."""
    return attrs.evolve(
        row,
        openid=intent.openid or row.openid,
        meeting_type=intent.meeting_type,
        series=intent.series,
        fingerprint=intent.fingerprint,
        attendees=intent.attendees,
        maybe_attendees=None,
        starts=(intent.start,) if intent.start is not None else row.starts,
        pending=None,
        intent=None,
    )
