"""Adopt before create: find the live meeting that already is exactly a key's desired meeting.

A key the journal does not map (a lost, deleted or other journal; a create in doubt) may
already have its meeting on the service. Before creating it, the sync looks for a live meeting
equal to it on every field the service reports: ``queryByDay`` (creator, title, start, end,
place, room, type, content, reminder) and ``meeting/detail`` (attendees, organisers, minutes,
the series' rule and repeat end, whether it is a series parent, an occurrence or a single
meeting). ``signature`` is that comparison's value for a request model, ``service_signature``
for what the service holds (``match``); a create intent records the signature of what it
sends, so a create in doubt is recognised exactly, whatever the key's entry says now.

``Finder`` does the lookups of one run: one ``queryByDay`` per distinct day, fetched before any
create of the run is sent (``prefetch``) and shared by every key, one ``detail`` per candidate,
and a one-to-one assignment: a meeting is claimed by one key at most, never one a journal row
maps (n identical desired meetings and m identical live ones: min(n, m) adopted). A series is
matched by its parent and its occurrence set: the parent's detail gives its rule and repeat
end, and the days of the occurrences (read once per run, like every day) must show a live
occurrence at every start the rule gives.

``topState`` (important) is reported by no read: an adopted meeting is assumed to hold the one
its key asks for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from .._convert import from_ms, to_ms
from ..client import MeetingClient
from ..details import GetMeeting, MeetingDetail
from ..errors import ProtocolError
from ..models import (
    MeetingInfo,
    MeetingStatus,
    QueryByDay,
    Repeat,
    RepeatMeeting,
)
from .entry import Entry
from .exclusions import cancel_excluded
from .journal import Intent
from .journal_protocol import SyncJournal
from .match import service_signature, signature
from .plan import Action, ActionKind, intent_for
from .recurrence import series_occurrences

__all__ = [
    "Finder",
    "Lookups",
    "Probe",
    "adopt",
    "days_to_read",
    "find_in_doubt",
    "occurrence_starts",
]

K = TypeVar("K")
T = TypeVar("T")

_DAY_MS = 86_400_000
_SHANGHAI_MS = 8 * 3_600_000


def _day(ms: int) -> int:
    return (ms + _SHANGHAI_MS) // _DAY_MS


def occurrence_starts(first: datetime, repeat: int, repeat_end: datetime) -> tuple[int, ...]:
    """The starts (epoch ms) of a series' occurrences on the Asia/Shanghai calendar."""
    return tuple(to_ms(s) for s in series_occurrences(first, Repeat(repeat), repeat_end))


@attrs.frozen
class Probe:
    """What to look for: the identity a candidate must have on its day (creator, title,
    start, end, in epoch ms) and the ``signature`` it must have."""

    openid: str
    title: str
    start: int
    end: int
    signature: str
    series: bool = False
    excluded: frozenset[int] = frozenset()
    """Starts (epoch ms) of a series' occurrences that may be cancelled (not looked at)."""
    important: bool | None = None
    """``topState`` wanted, checked when the server's detail reports it (``None``: not)."""

    @classmethod
    def of(cls, entry: Entry) -> Probe:
        """The probe of the meeting ``entry`` asks for (its EXDATE occurrences excluded)."""
        model = entry.model
        return cls(
            openid=model.openid,
            title=model.title,
            start=to_ms(model.start_date),
            end=to_ms(model.end_date),
            signature=signature(model),
            series=isinstance(model, RepeatMeeting),
            excluded=frozenset(to_ms(s) for s in entry.excluded),
            important=bool(model.top_state),
        )

    def may_be_important(self, reported: bool | None) -> bool:
        """Whether a ``topState`` the server reports (``None``: not) is this one."""
        return self.important is None or reported is None or bool(reported) == self.important

    def could_be(self, info: MeetingInfo) -> bool:
        """Whether ``info`` is live and has this identity (worth a detail call)."""
        return (
            info.title == self.title
            and to_ms(info.start_date) == self.start
            and to_ms(info.end_date) == self.end
            and info.openid in (None, self.openid)
            and info.meeting_status is not MeetingStatus.DELETED
        )


@attrs.define
class Lookups:
    """How many reads a ``Finder`` sent."""

    days: int = 0
    details: int = 0


class Finder:
    """The lookups of one sync run against ``client``; ``mapped`` holds every id some key
    maps (the journal's, and each one claimed), shared with the caller and never claimed."""

    def __init__(self, client: MeetingClient, mapped: set[str], concurrency: int = 8) -> None:
        self.client = client
        self.mapped = mapped
        self.lookups = Lookups()
        self._days: dict[int, asyncio.Task[list[MeetingInfo]]] = {}
        self._details: dict[str, asyncio.Task[MeetingDetail]] = {}
        self._gate = asyncio.Semaphore(concurrency)
        self._sealed = False
        self._unread: dict[int, Exception] = {}
        self._index: dict[int, dict[tuple[str, int, int], list[MeetingInfo]]] = {}
        self._index_of: dict[int, list[MeetingInfo]] = {}
        self._snapshot_days: set[int] = set()
        self._unreadable: dict[int, int] = {}  # day -> meetings the answer had but unreadable

    async def prefetch(self, starts: Iterable[int]) -> None:
        """Read the days of ``starts`` (epoch ms) now, before anything is created: a meeting
        this run creates is then in no day read, so it is never taken for one found. After
        this, ``claim`` looks only at the days read here."""
        days = [ms for d, ms in {_day(ms): ms for ms in starts}.items() if d not in self._days]
        outcomes = await asyncio.gather(*(self.day(ms) for ms in days), return_exceptions=True)
        for ms, outcome in zip(days, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                self._unread[_day(ms)] = outcome
        self._snapshot_days.update(self._days)
        self._sealed = True

    async def snapshot(self, ms: int) -> list[MeetingInfo]:
        """The day of ``ms`` as read before the run's first create (empty if it was not).

        A day whose read failed raises that error: its keys fail (nothing is created
        without having looked) and are tried again by the next run.
        """
        error = self._unread.get(_day(ms))
        if error is not None:
            raise error.with_traceback(None)
        if self._sealed and _day(ms) not in self._snapshot_days:
            return []
        return await self.day(ms)

    async def day(self, ms: int) -> list[MeetingInfo]:
        """The meetings of the Shanghai day of ``ms`` (one ``queryByDay`` per day and run)."""
        return await _shared(self._days, _day(ms), lambda: self._read_day(ms))

    async def detail(self, meeting_id: str) -> MeetingDetail:
        """``meeting/detail`` of ``meeting_id`` (once per run)."""
        return await _shared(self._details, meeting_id, lambda: self._read_detail(meeting_id))

    async def _read_day(self, ms: int) -> list[MeetingInfo]:
        async with self._gate:
            self.lookups.days += 1
            meetings = await self.client.query_by_day(QueryByDay(from_ms(ms)))
        unreadable = getattr(meetings, "received", len(meetings)) - len(meetings)
        if unreadable > 0:
            self._unreadable[_day(ms)] = unreadable
        return meetings

    def unreadable(self, ms: int) -> int:
        """How many meetings of the day of ``ms`` the service answered but the SDK could not
        read (a missing id, title or time): any of them may be the one looked for."""
        return self._unreadable.get(_day(ms), 0)

    async def _read_detail(self, meeting_id: str) -> MeetingDetail:
        async with self._gate:
            self.lookups.details += 1
            return await self.client.get_meeting(GetMeeting(meeting_id))

    async def candidates(self, probe: Probe, *, snapshot: bool = True) -> list[MeetingInfo]:
        """The live meetings of the probe's day that have its identity, found through an
        index of the day (built once). ``snapshot``: only in a day read before any create."""
        if snapshot:
            meetings = await self.snapshot(probe.start)
        else:
            meetings = await self.day(probe.start)
        day = _day(probe.start)
        index = self._index.get(day)
        if index is None or self._index_of[day] is not meetings:
            index = self._index[day] = {}
            self._index_of[day] = meetings
            for info in meetings:
                key = (info.title, to_ms(info.start_date), to_ms(info.end_date))
                index.setdefault(key, []).append(info)
        same = index.get((probe.title, probe.start, probe.end), ())
        return [info for info in same if probe.could_be(info)]

    async def claim(self, probe: Probe) -> str | None:
        """The id of a live meeting exactly matching ``probe`` that no key maps, now mapped
        (claimed); ``None`` when there is none."""
        for info in await self.candidates(probe):
            if info.id in self.mapped:
                continue
            detail = await self.detail(info.id)
            if service_signature(info, detail) != probe.signature:
                continue
            if not probe.may_be_important(detail.top_state):
                continue
            if probe.series and not await self._occurrences_live(probe, detail):
                continue
            if info.id in self.mapped:
                continue  # claimed by another key while this one looked
            self.mapped.add(info.id)
            return info.id
        return None

    async def _occurrences_live(self, probe: Probe, detail: MeetingDetail) -> bool:
        """Whether every occurrence the parent's rule gives is live at its start (the days
        read once per run, shared with every other key)."""
        if detail.repeat is None or detail.repeat_end_date is None:
            return False
        first = from_ms(probe.start)
        starts = occurrence_starts(first, int(detail.repeat), detail.repeat_end_date)
        duration = probe.end - probe.start
        found = await asyncio.gather(
            *(
                self.candidates(
                    attrs.evolve(probe, start=start, end=start + duration), snapshot=False
                )
                for start in starts[1:]
                if start not in probe.excluded
            )
        )
        return all(found)


async def _shared(
    tasks: dict[K, asyncio.Task[T]], key: K, read: Callable[[], Coroutine[Any, Any, T]]
) -> T:
    """One read per key, shared by every caller: a caller cancelled meanwhile does not cancel
    it for the others; a read that failed is made again by the next caller."""
    task = tasks.get(key)
    if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
        task = tasks[key] = asyncio.ensure_future(read())
    return await asyncio.shield(task)


def days_to_read(actions: Iterable[Action]) -> list[int]:
    """The starts (epoch ms) whose days the adoptions of ``actions`` may read: those of the
    creates, and of the keys in doubt (what a create sent, and what the key asks for now)."""
    starts: list[int] = []
    for action in actions:
        if action.kind is ActionKind.CREATE and action.entry is not None:
            starts.append(to_ms(action.entry.model.start_date))
        elif action.kind is ActionKind.RECONCILE and action.row is not None:
            intent = action.row.intent
            if action.row.pending == "create" and intent is not None and intent.start is not None:
                starts.append(intent.start)
            if action.entry is not None:
                starts.append(to_ms(action.entry.model.start_date))
    return starts


async def adopt(finder: Finder, journal: SyncJournal, key: str, entry: Entry) -> bool:
    """Map ``key`` (which the journal does not map) to a live meeting that exactly is its
    entry's, if one is unclaimed: journaled as a create that is known to have happened."""
    found = await finder.claim(Probe.of(entry))
    if found is None:
        return False
    # Killed between the two steps, the key is a create in doubt, and its intent's signature
    # finds this meeting again on the next run.
    await journal.begin(key, intent_for("create", entry))
    await journal.adopt(key, found)
    if entry.excluded:  # as after a create: the EXDATE occurrences not cancelled yet
        await cancel_excluded(finder.client, journal, key, entry)
    return True


async def find_in_doubt(finder: Finder, intent: Intent, entry: Entry | None) -> str | None:
    """Claim the meeting a create in doubt made, if it made one: the live meeting with the
    signature of what it sent (journaled by this version with the intent). An intent of an
    older version without one is matched through the key's entry when that is what it sent,
    else on creator, title, start and end (and the key is then modified if it differs)."""
    assert intent.openid is not None
    assert intent.title is not None
    assert intent.start is not None
    assert intent.end is not None
    wanted = intent.signature
    if wanted is None and entry is not None and entry.base_fingerprint == intent.fingerprint:
        wanted = signature(entry.model)
    if wanted is not None:
        excluded = frozenset(to_ms(s) for s in entry.excluded) if entry is not None else frozenset()
        probe = Probe(
            intent.openid, intent.title, intent.start, intent.end, wanted, intent.series, excluded
        )
        return _checked(finder, probe, await finder.claim(probe))
    loose = Probe(intent.openid, intent.title, intent.start, intent.end, "", intent.series)
    for info in await finder.candidates(loose):
        if info.id not in finder.mapped:
            finder.mapped.add(info.id)
            return info.id
    return _checked(finder, loose, None)


def _checked(finder: Finder, probe: Probe, found: str | None) -> str | None:
    """``found``; but "not found" on a day with unreadable meetings is not known: the key
    fails and stays in doubt (the next run looks again) rather than risk a second create."""
    if found is None and finder.unreadable(probe.start):
        raise ProtocolError(
            f"{finder.unreadable(probe.start)} meeting(s) of that day could not be read; "
            "cannot tell whether the create in doubt happened",
            endpoint="queryByDay",
        )
    return found
