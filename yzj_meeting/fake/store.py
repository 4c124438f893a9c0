"""The meeting store: typed meetings, series and a by-day index, and the domain operations.

Nothing here reads or writes wire JSON: the operations take typed commands (parsed by
``wire``) and return typed results (rendered by ``wire``). Every operation checks all it
needs before it changes anything, so a refusal leaves the store as it was. The meetings each
operation changed are collected for persistence (:meth:`MeetingStore.take_changes`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any, Final

import attrs

from .calendar import SeriesTooLongError, expand_ms, shanghai_day
from .codes import MEETING_CANCELLED_ERROR_CODE, NOT_CREATOR_ERROR_CODE, Refusal, param
from .rooms import Room, catalogue

__all__ = [
    "JOIN_STATUSES",
    "MEETING_FIELDS",
    "SERIES_LIMIT",
    "STATUS_CANCELLED",
    "STATUS_DONE",
    "STATUS_OPEN",
    "ActorChange",
    "Change",
    "Details",
    "Meeting",
    "MeetingStore",
    "NewMeeting",
    "NewSeries",
    "SeriesChange",
    "Target",
    "derived_id",
]

STATUS_OPEN: Final = 0
STATUS_DONE: Final = 1
STATUS_CANCELLED: Final = 2
SERIES_LIMIT: Final = 1000
JOIN_STATUSES: Final = frozenset((0, 1, 2, 3))
"""The answers an attendee may give: 0 none, 1 declined, 2 joining, 3 delegated (4, cancelled,
is derived from the meeting)."""


@attrs.define
class Meeting:
    """One stored meeting: the wire fields in snake_case, times in epoch ms."""

    id: str
    openid: str
    title: str
    start_date: int
    end_date: int
    create_date: int
    content: str | None = None
    meeting_place: str | None = None
    room_id: str | None = None
    notice_time: int | None = None
    top_state: int | None = None
    actors: list[str] = attrs.Factory(list)
    type: str | None = None
    submit_experience: bool | None = None
    repeat: int | None = None
    repeat_end_date: int | None = None
    batch_id: str | None = None
    status: int = STATUS_OPEN
    cancel_date: int | None = None
    notice_times: list[int] | None = None
    meet_organizers: list[str] | None = None
    encryption: bool | None = None
    share_ids: list[str] | None = None
    agent: str | None = None
    cancel_reason: str | None = None
    update_time: int | None = None
    """The last change by a write call (epoch ms); None in state saved before it was kept."""
    room_order_id: str | None = None
    """The room booking (order) of the meeting: made when it first gets a ``room_id``, kept
    for good; the booking is deleted while the meeting is cancelled or has no room."""
    booked_room_id: str | None = None
    """The room of the booking: ``room_id``, or the last one before it was cleared."""
    responses: dict[str, int] = attrs.Factory(dict)
    """Attendee oid -> joinStatus 1, 2 or 3 (answered); others have not answered (0)."""
    check_ins: dict[str, int] = attrs.Factory(dict)
    """Attendee oid -> when they checked in (epoch ms)."""

    @property
    def booked(self) -> bool:
        """Whether the meeting holds its room now (a booking neither cancelled nor cleared)."""
        return self.room_id is not None and self.status != STATUS_CANCELLED

    @property
    def changed_at(self) -> int:
        """``update_time``, else ``create_date``."""
        return self.update_time if self.update_time is not None else self.create_date


MEETING_FIELDS: Final = tuple(field.name for field in attrs.fields(Meeting))


# --- typed commands (built by wire's parsers) ----------------------------------------------------


@attrs.frozen
class Details:
    """The fields every create, modify and series call replaces."""

    title: str
    content: str | None
    notice_time: int | None
    top_state: int | None
    submit_experience: bool | None
    notice_times: tuple[int, ...] | None = None
    meet_organizers: tuple[str, ...] | None = None
    encryption: bool | None = None
    share_ids: tuple[str, ...] | None = None


@attrs.frozen
class ActorChange:
    """``actors`` (a full replacement) or ``addActors``/``delActors`` (an edit)."""

    actors: tuple[str, ...] | None = None
    add: tuple[str, ...] | None = None
    remove: tuple[str, ...] | None = None

    def apply(self, old: list[str]) -> list[str]:
        """The attendees after this change to ``old``."""
        if self.actors is not None:
            return list(self.actors)
        if not self.add and not self.remove:
            return list(old)
        gone = set(self.remove or ())
        return [oid for oid in dict.fromkeys([*old, *(self.add or ())]) if oid not in gone]


@attrs.frozen
class Target:
    """The meeting a write names: ``id``, the caller ``openid``, the series' ``batch_id``;
    ``agent_may``: the meeting's ``agent`` may make this write too."""

    id: str
    openid: str
    batch_id: str | None = None
    agent_may: bool = False


@attrs.frozen
class NewMeeting:
    """create."""

    openid: str
    details: Details
    start: int
    end: int
    place: str | None
    room: str | None
    actors: tuple[str, ...]
    type: str | None
    agent: str | None = None


@attrs.frozen
class Change:
    """modify: a full replacement of the documented fields."""

    details: Details
    start: int
    end: int
    place: str | None
    room: str | None
    actors: ActorChange
    agent: str | None = None


@attrs.frozen
class NewSeries:
    """repeatMeeting."""

    openid: str
    details: Details
    start: int
    end: int
    rule: int
    until: int | None
    place: str | None
    room: str | None
    type: str | None
    actors: tuple[str, ...]
    agent: str | None = None


@attrs.frozen
class SeriesChange:
    """batchModify; ``place``/``room`` are replaced only when ``sent``."""

    details: Details
    start: int
    end: int
    rule: int
    until: int | None
    actors: ActorChange
    place: str | None
    room: str | None
    sent: frozenset[str]


# --- the store -----------------------------------------------------------------------------------


class MeetingStore:
    """The meetings, their series (creation order), a Shanghai-day index of their starts, the
    room orders and the room catalogue (``rooms``: ``DEFAULT_ROOMS`` when None)."""

    def __init__(self, rng: random.Random, rooms: Iterable[Room] | None = None) -> None:
        self.meetings: dict[str, Meeting] = {}
        self.rooms: Mapping[str, Room] = catalogue(rooms)
        self.orders: dict[str, str] = {}  # room order id -> meeting id
        self._random = rng
        self._series: dict[str, list[str]] = {}  # batch id -> member ids, creation order
        self._days: dict[int, dict[str, None]] = {}  # Shanghai day -> ids starting that day
        self._changed: dict[str, Meeting] = {}
        self.version = 0
        """Counts changes made by the operations (so a caller can tell whether one acted)."""

    # --- reads -----------------------------------------------------------------------------

    def status(self, meeting: Meeting, now: int) -> int:
        """``meetingStatus`` at ``now`` (epoch ms): 0 open, 1 done, 2 cancelled."""
        if meeting.status == STATUS_CANCELLED:
            return STATUS_CANCELLED
        return STATUS_DONE if meeting.end_date < now else STATUS_OPEN

    def on_day(self, instant: int) -> list[Meeting]:
        """The meetings starting on the Shanghai day of ``instant``, in start order."""
        bucket = self._days.get(shanghai_day(instant))
        if not bucket:
            return []
        return sorted((self.meetings[i] for i in bucket), key=attrgetter("start_date"))

    def in_range(self, start: int, end: int) -> list[Meeting]:
        """The meetings starting from ``start`` to ``end`` (both included), in start order;
        day by day this is :meth:`on_day`'s order."""
        first, last = shanghai_day(start), shanghai_day(end)
        if last < first:
            return []
        if last - first < len(self._days):
            days: Iterable[int] = range(first, last + 1)
        else:
            days = sorted(d for d in self._days if first <= d <= last)
        found: list[Meeting] = []
        for day in days:
            bucket = self._days.get(day)
            if bucket:
                ordered = sorted((self.meetings[i] for i in bucket), key=attrgetter("start_date"))
                found.extend(m for m in ordered if start <= m.start_date <= end)
        return found

    def of_user(self, openid: str) -> list[Meeting]:
        """The meetings ``openid`` created, attends, organises or was the agent of, in start
        order (ties by id)."""
        mine = [
            m
            for m in self.meetings.values()
            if openid == m.openid
            or openid in m.actors
            or openid == m.agent
            or (m.meet_organizers is not None and openid in m.meet_organizers)
        ]
        mine.sort(key=attrgetter("start_date", "id"))
        return mine

    def get(self, meeting_id: str, field: str = "id") -> Meeting:
        """The meeting ``meeting_id``; a parameter error naming ``field`` when unknown."""
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise param(f"{field} {meeting_id} is unknown")
        return meeting

    def series(self, batch_id: str) -> list[Meeting]:
        """The occurrences of a series (cancelled ones too), in start order."""
        ids = self._series.get(batch_id, ())
        return sorted((self.meetings[i] for i in ids), key=attrgetter("start_date"))

    def writable(self, target: Target) -> Meeting:
        """The meeting ``target`` names, after checking its ``openid`` is the creator."""
        meeting = self.meetings.get(target.id)
        if meeting is None:
            raise param(f"id {target.id} is unknown")
        if meeting.openid != target.openid and not (
            target.agent_may and meeting.agent is not None and meeting.agent == target.openid
        ):
            raise Refusal(NOT_CREATOR_ERROR_CODE, "only the creator may change this meeting")
        return meeting

    def series_from(self, target: Target) -> list[Meeting]:
        """The occurrence ``target`` names and every later one of its series."""
        given = self.writable(target)
        batch = given.batch_id
        if batch is None:
            raise param(f"id {given.id} is not an occurrence of a repeating meeting")
        if not target.batch_id:
            if given.id != batch:
                raise param("batchId is required unless id is the series' parent")
        elif target.batch_id != batch:
            raise param("batchId is not the parent id of this meeting's series")
        members = self.series(batch)
        at = next(i for i, m in enumerate(members) if m is given)
        return members[at:]

    # --- writes ----------------------------------------------------------------------------

    def create(self, command: NewMeeting, now: int) -> Meeting:
        """A new meeting, in no series."""
        meeting = Meeting(
            id=self._new_id(),
            openid=command.openid,
            start_date=command.start,
            end_date=command.end,
            create_date=now,
            meeting_place=command.place,
            room_id=command.room,
            actors=list(command.actors),
            type=command.type,
            agent=command.agent,
            **_detail_fields(command.details),
        )
        self._stamp(meeting, now)
        self._add(meeting)
        return meeting

    def modify(self, meeting: Meeting, command: Change, now: int) -> None:
        """Replace the documented fields of an open ``meeting``."""
        _check_open(meeting)
        _set(meeting, _detail_fields(command.details))
        meeting.meeting_place, meeting.room_id = command.place, command.room
        meeting.agent = command.agent
        _set_actors(meeting, command.actors.apply(meeting.actors))
        self._stamp(meeting, now)
        self._move(meeting, command.start, command.end)

    def cancel(self, meetings: Iterable[Meeting], now: int, reason: str | None = None) -> None:
        """Cancel ``meetings``; cancelled ones stay as they are (cancelling is idempotent)."""
        for meeting in meetings:
            if meeting.status != STATUS_CANCELLED:
                meeting.status, meeting.cancel_date = STATUS_CANCELLED, now
                meeting.cancel_reason = reason
                self._stamp(meeting, now)
                self._touch(meeting)

    def respond(self, meeting: Meeting, openid: str, join_status: int) -> None:
        """Record an attendee's answer (``JOIN_STATUSES``; 0 takes it back)."""
        if openid not in meeting.actors:
            raise ValueError(f"{openid} is not an attendee of meeting {meeting.id}")
        if join_status not in JOIN_STATUSES:
            raise ValueError(f"join_status must be one of {sorted(JOIN_STATUSES)}")
        meeting.responses = {k: v for k, v in meeting.responses.items() if k != openid}
        if join_status:
            meeting.responses[openid] = join_status
        self._touch(meeting)

    def check_in(self, meeting: Meeting, openid: str, now: int) -> None:
        """Record an attendee's check-in at ``now`` (the first one counts)."""
        if openid not in meeting.actors:
            raise ValueError(f"{openid} is not an attendee of meeting {meeting.id}")
        if openid not in meeting.check_ins:
            meeting.check_ins = {**meeting.check_ins, openid: now}
            self._touch(meeting)

    def repeat(self, command: NewSeries, now: int) -> list[Meeting]:
        """A new series: its occurrences, the parent (whose id is the batch id) first."""
        spans = self._expand(command.start, command.end, command.rule, command.until)
        created: list[Meeting] = []
        for start, end in spans:
            meeting_id = self._new_id()
            meeting = Meeting(
                id=meeting_id,
                openid=command.openid,
                start_date=start,
                end_date=end,
                create_date=now,
                meeting_place=command.place,
                room_id=command.room,
                type=command.type,
                repeat=command.rule,
                repeat_end_date=command.until,
                actors=list(command.actors),
                batch_id=created[0].id if created else meeting_id,
                agent=command.agent,
                **_detail_fields(command.details),
            )
            self._stamp(meeting, now)
            created.append(meeting)
            self._add(meeting)
        return created

    def batch_modify(self, affected: list[Meeting], command: SeriesChange, now: int) -> None:
        """Re-plan ``affected`` (an occurrence and every later one) as ``command`` says.

        Open occurrences are reused in start order, new ones copy the given occurrence's place,
        room and type, and open ones left over are cancelled.
        """
        given = affected[0]
        _check_open(given)
        spans = self._expand(command.start, command.end, command.rule, command.until)
        fields: dict[str, Any] = _detail_fields(command.details)
        fields["repeat"], fields["repeat_end_date"] = command.rule, command.until
        if "meetingPlace" in command.sent:
            fields["meeting_place"] = command.place
        if "roomId" in command.sent:
            fields["room_id"] = command.room
        live = [m for m in affected if m.status != STATUS_CANCELLED]
        base_actors = given.actors  # replaced, never mutated, in the loop below
        for index, (start, end) in enumerate(spans):
            if index < len(live):
                meeting = live[index]
                old_actors = meeting.actors
            else:
                meeting = Meeting(
                    id=self._new_id(),
                    openid=given.openid,
                    title=given.title,
                    start_date=start,
                    end_date=end,
                    create_date=now,
                    meeting_place=given.meeting_place,
                    room_id=given.room_id,
                    type=given.type,
                    batch_id=given.batch_id,
                    agent=given.agent,
                )
                old_actors = base_actors
                self._add(meeting)
            _set(meeting, fields)
            _set_actors(meeting, command.actors.apply(old_actors))
            self._stamp(meeting, now)
            self._move(meeting, start, end)
        self.cancel(live[len(spans) :], now)

    def take_changes(self) -> list[Meeting]:
        """The meetings changed since the last call, in the order first changed."""
        changed = list(self._changed.values())
        self._changed.clear()
        return changed

    def mark_changed(self, meetings: Iterable[Meeting]) -> None:
        """Count ``meetings`` as changed (they were edited outside the operations)."""
        for meeting in meetings:
            self._touch(meeting)

    # --- loading ---------------------------------------------------------------------------

    def put(self, record: Mapping[str, Any]) -> None:
        """Store the meeting ``record`` describes (a new one, or a new state of a known one).

        Used to replay persisted changes; not counted as a change.
        """
        fresh = Meeting(**record)
        meeting = self.meetings.get(fresh.id)
        if meeting is None:
            self._add(fresh, touch=False)
            return
        start, end = fresh.start_date, fresh.end_date
        _set(meeting, {n: getattr(fresh, n) for n in MEETING_FIELDS if n not in _PLACED})
        if meeting.room_order_id is not None:
            self.orders[meeting.room_order_id] = meeting.id
        self._move(meeting, start, end, touch=False)

    def clear(self) -> None:
        """Forget every meeting."""
        self.meetings.clear()
        self.orders.clear()
        self._series.clear()
        self._days.clear()
        self._changed.clear()

    # --- internals -------------------------------------------------------------------------

    def _expand(self, start: int, end: int, rule: int, until: int | None) -> list[tuple[int, int]]:
        try:
            return expand_ms(start, end, rule, start if until is None else until, SERIES_LIMIT)
        except SeriesTooLongError:
            raise param(f"the series would have more than {SERIES_LIMIT} occurrences") from None

    def _new_id(self) -> str:
        while True:
            meeting_id = f"{self._random.getrandbits(96):024x}"
            if meeting_id not in self.meetings:
                return meeting_id

    def _stamp(self, meeting: Meeting, now: int) -> None:
        """A write changed ``meeting`` at ``now``: its ``update_time``, its room booking."""
        meeting.update_time = now
        room = meeting.room_id
        if room is not None:
            meeting.booked_room_id = room
            if meeting.room_order_id is None:
                meeting.room_order_id = derived_id("order", meeting.id)
                self.orders[meeting.room_order_id] = meeting.id

    def _touch(self, meeting: Meeting) -> None:
        self._changed[meeting.id] = meeting
        self.version += 1

    def _add(self, meeting: Meeting, touch: bool = True) -> None:
        self.meetings[meeting.id] = meeting
        if meeting.room_order_id is not None:
            self.orders[meeting.room_order_id] = meeting.id
        self._days.setdefault(shanghai_day(meeting.start_date), {})[meeting.id] = None
        if meeting.batch_id is not None:
            self._series.setdefault(meeting.batch_id, []).append(meeting.id)
        if touch:
            self._touch(meeting)

    def _move(self, meeting: Meeting, start: int, end: int, touch: bool = True) -> None:
        old_day, new_day = shanghai_day(meeting.start_date), shanghai_day(start)
        meeting.start_date, meeting.end_date = start, end
        if old_day != new_day:
            bucket = self._days[old_day]
            del bucket[meeting.id]
            if not bucket:
                del self._days[old_day]
            self._days.setdefault(new_day, {})[meeting.id] = None
        if touch:
            self._touch(meeting)


_PLACED = frozenset(("id", "start_date", "end_date", "batch_id"))


def _detail_fields(details: Details) -> dict[str, Any]:
    """``details`` as Meeting fields (lists where the command holds tuples)."""
    fields = attrs.asdict(details, recurse=False)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def derived_id(kind: str, *parts: str) -> str:
    """A stable 24-hex id for a record that belongs to another (an order, a participant)."""
    return hashlib.sha1(":".join((kind, *parts)).encode()).hexdigest()[:24]


def _set_actors(meeting: Meeting, actors: list[str]) -> None:
    """New attendees; the answers and check-ins of those who left are dropped."""
    meeting.actors = actors
    kept = set(actors)
    if not kept.issuperset(meeting.responses):
        meeting.responses = {k: v for k, v in meeting.responses.items() if k in kept}
    if not kept.issuperset(meeting.check_ins):
        meeting.check_ins = {k: v for k, v in meeting.check_ins.items() if k in kept}


def _set(meeting: Meeting, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        setattr(meeting, key, value)


def _check_open(meeting: Meeting) -> None:
    if meeting.status == STATUS_CANCELLED:
        raise Refusal(MEETING_CANCELLED_ERROR_CODE, "the meeting is cancelled")
