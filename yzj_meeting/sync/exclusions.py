"""Excluded occurrences of a series (iCalendar ``EXDATE``): the series is created, then each
excluded occurrence is cancelled by its own id, one journaled call at a time.

The exclusions are part of what an entry asks for (``Entry.excluded``), so they are part of its
fingerprint. What the journal row keeps is the series' fingerprint followed by the starts of the
occurrences already cancelled (``v2:<hash>+x:<ms>,<ms>``): a create or ``batchModify`` leaves
the bare series fingerprint (nothing cancelled yet), and each cancel is journaled as a step that
adds its start. So a run killed anywhere resumes where it stopped:

- killed after the create or modify: the row says "series, nothing cancelled" and the next run
  cancels every excluded occurrence (an ``exclude`` action, no other call);
- killed with a cancel in flight: that step is dropped and sent again (a cancel is idempotent);
- an ``EXDATE`` added later: only the new occurrence is cancelled; one removed: the series is
  modified (``batchModify`` re-plans it), then the exclusions are checked again.

Right after ``repeatMeeting`` the occurrence ids are its answer, in start order (the parent
first). After a ``batchModify`` (whose answer has no ids) the occurrence is looked up on its
day: a live meeting of the series at that start (``queryByDay``; ``meeting/detail`` tells the
series of an id the journal has not seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from .._convert import from_ms, to_ms
from ..client import MeetingClient, error_may_have_acted
from ..details import GetMeeting
from ..models import CancelMeeting, MeetingStatus, QueryByDay, RepeatMeeting
from .journal_protocol import SyncJournal
from .recurrence import series_occurrences
from .rows import Intent, JournalRow

if TYPE_CHECKING:
    from .entry import Entry

__all__ = ["cancel_excluded", "decode", "encode", "settled", "to_cancel"]

_MARK = "+x:"


def encode(base: str, done: Iterable[int | datetime]) -> str:
    """The fingerprint of a series ``base`` whose occurrences starting at ``done`` (epoch ms
    or aware datetimes) are cancelled; ``base`` itself when none is."""
    starts = sorted({d if isinstance(d, int) else to_ms(d) for d in done})
    return base if not starts else f"{base}{_MARK}{','.join(map(str, starts))}"


def decode(fingerprint: str | None) -> tuple[str | None, frozenset[int]]:
    """``(base, cancelled starts in ms)`` of a fingerprint from ``encode``."""
    if fingerprint is None:
        return None, frozenset()
    base, mark, tail = fingerprint.partition(_MARK)
    if not mark:
        return fingerprint, frozenset()
    try:
        return base, frozenset(int(part) for part in tail.split(","))
    except ValueError:
        return None, frozenset()  # not ours: the meeting is modified again


def to_cancel(entry: Entry, row: JournalRow) -> tuple[datetime, ...] | None:
    """The excluded occurrences still to cancel when the row's series is the entry's;
    ``None`` when it is not (the series must be modified first)."""
    base, done = decode(row.fingerprint)
    if base is None or base != entry.base_fingerprint or not row.series:
        return None
    wanted = {to_ms(s) for s in entry.excluded}
    if not done <= wanted:
        return None  # an exclusion was taken back: only a batchModify brings it back
    return tuple(s for s in entry.excluded if to_ms(s) not in done)


def settled(row: JournalRow) -> JournalRow:
    """``row`` with an exclusion step in doubt dropped (its cancel is sent again, which is
    harmless), any other unconfirmed modify folded in as ``JournalRow.settled`` does."""
    intent = row.intent
    if row.pending == "modify" and intent is not None:
        base, done = decode(intent.fingerprint)
        if done and base is not None and base == decode(row.fingerprint)[0]:
            return attrs.evolve(row, pending=None, intent=None)
    return row.settled()


async def cancel_excluded(
    client: MeetingClient,
    journal: SyncJournal,
    key: str,
    entry: Entry,
    ids: Sequence[str] | None = None,
) -> int:
    """Cancel ``entry``'s excluded occurrences not cancelled yet; how many calls were sent.

    ``ids``: the answer of the ``repeatMeeting`` that just created the series (the occurrences
    are then known by position), else each is looked up on its day.
    """
    row = await journal.get(key)
    assert row is not None
    assert row.meeting_id is not None
    todo = to_cancel(entry, row)
    if not todo:
        return 0
    done = set(decode(row.fingerprint)[1])
    by_start = _by_start(entry, ids) if ids else {}
    known = {*row.ids, row.meeting_id}
    model = entry.model
    sent = 0
    for start in todo:
        ms = to_ms(start)
        target = by_start.get(ms) or await _find(client, entry, row.meeting_id, ms, known)
        done.add(ms)
        await journal.begin(key, _intent(entry, encode(entry.base_fingerprint, done)))
        if target is not None:
            try:
                await client.call(CancelMeeting(id=target, openid=model.openid))
            except BaseException as exc:
                if not error_may_have_acted(exc):
                    await journal.failed(key)
                raise  # else the step stays in doubt: the next run sends it again
            sent += 1
        await journal.succeeded(key)  # (none live there: the exclusion holds already)
    return sent


def _by_start(entry: Entry, ids: Sequence[str]) -> dict[int, str]:
    """The occurrence ids of a just-created series by start, when the answer has one id per
    occurrence of the rule (else none: each is looked up)."""
    model = entry.model
    assert isinstance(model, RepeatMeeting)
    starts = series_occurrences(model.start_date, model.repeat, model.repeat_end_date, len(ids) + 1)
    if len(starts) != len(ids):
        return {}
    return {to_ms(s): meeting_id for s, meeting_id in zip(starts, ids, strict=True)}


async def _find(
    client: MeetingClient, entry: Entry, parent: str, start: int, known: set[str]
) -> str | None:
    """The live occurrence of the series ``parent`` starting at ``start``, if any."""
    model = entry.model
    found = [
        info.id
        for info in await client.query_by_day(QueryByDay(from_ms(start)))
        if to_ms(info.start_date) == start
        and info.title == model.title
        and info.openid in (None, model.openid)
        and info.meeting_status is not MeetingStatus.DELETED
    ]
    for meeting_id in found:
        if meeting_id in known:
            return meeting_id
    for meeting_id in found:
        detail = await client.get_meeting(GetMeeting(id=meeting_id))
        if detail.batch_id == parent:
            return meeting_id
    return None


def _intent(entry: Entry, fingerprint: str) -> Intent:
    """The journal intent of one cancel step: the series as it is, with one more exclusion."""
    model = entry.model
    return Intent(
        op="modify",
        fingerprint=fingerprint,
        attendees=entry.attendees,
        openid=model.openid,
        title=model.title,
        start=to_ms(model.start_date),
        end=to_ms(model.end_date),
        series=True,
    )
