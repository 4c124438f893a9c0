"""The operations of the agreement property test (``test_agreement``) and the driver that
applies them through the SDK client, checking that each write reads back as written."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st

from yzj_meeting import (
    SHANGHAI,
    ApiError,
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    GetMeeting,
    MeetingClient,
    MeetingDetail,
    ModifyMeeting,
    NoticeTime,
    QueryByRange,
    Repeat,
    RepeatMeeting,
)
from yzj_meeting.fake import (
    DEFAULT_ROOMS,
    MEETING_CANCELLED_ERROR_CODE,
    NOT_CREATOR_ERROR_CODE,
    PARAM_ERROR_CODE,
    FakeService,
)

ROOT = Path(__file__).resolve().parents[2]
CREATOR = "5a67e08d00b0e8dfe4aab4fa"
AGENT = "5a67e08d00b0e8dfe4aab4ac"
PEOPLE = ("p1", "p2", "p3", "p4")
ROOMS = tuple(room.room_id for room in DEFAULT_ROOMS[:3])
EID = "eid-1"
DAY = date(2026, 12, 7)  # a Monday
FIRST_DAY, LAST_DAY = DAY - timedelta(days=2), DAY + timedelta(days=24)
NOW = datetime(2026, 12, 7, 11, 0, tzinfo=SHANGHAI)  # some meetings end before, some after
EXPECTED_CODES = frozenset((PARAM_ERROR_CODE, MEETING_CANCELLED_ERROR_CODE))


# --- operations --------------------------------------------------------------------------------


@attrs.frozen
class Slot:
    """When: a day around DAY, a start on the half hour (late ones run past midnight)."""

    day: int
    half_hour: int
    minutes: int

    def span(self) -> tuple[datetime, datetime]:
        start = datetime.combine(DAY + timedelta(days=self.day), datetime.min.time(), SHANGHAI)
        start += timedelta(minutes=30 * self.half_hour)
        return start, start + timedelta(minutes=self.minutes)


@attrs.frozen
class Fields:
    """What create/modify set besides the time."""

    title: str
    place: str | None
    room: str | None
    actors: tuple[str, ...]
    organizers: tuple[str, ...] | None
    notice: NoticeTime | None
    notices: tuple[int, ...] | None


@attrs.frozen
class Create:
    slot: Slot
    fields: Fields
    agent: bool


@attrs.frozen
class Series:
    slot: Slot
    fields: Fields
    rule: Repeat
    days: int


@attrs.frozen
class Modify:
    target: int
    slot: Slot
    fields: Fields
    via_update: bool
    by_agent: bool
    agent: bool


@attrs.frozen
class Respond:
    """An attendee answers in their app (not an API call): ``FakeService.respond``."""

    target: int
    attendee: int
    join_status: int


@attrs.frozen
class Cancel:
    target: int


@attrs.frozen
class SeriesModify:
    target: int
    slot: Slot
    title: str
    actors: tuple[str, ...]
    rule: Repeat
    days: int
    via_update: bool


@attrs.frozen
class SeriesCancel:
    target: int


slots = st.builds(
    Slot,
    day=st.integers(-1, 3),
    half_hour=st.integers(0, 47),
    minutes=st.sampled_from([30, 60, 90, 240]),
)
people = st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True).map(tuple)
fields = st.builds(
    Fields,
    title=st.sampled_from(["周会", "review", "1:1"]),
    place=st.sampled_from([None, "云8", "B2"]),
    room=st.sampled_from((None, *ROOMS)),
    actors=people,
    organizers=st.one_of(st.none(), people.filter(bool)),
    notice=st.sampled_from([None, NoticeTime.MINUTES_15, NoticeTime.HOUR_1]),
    notices=st.sampled_from([None, (5, 15)]),
).filter(lambda f: f.notice is None or f.notices is None)
rules = st.sampled_from([Repeat.DAILY, Repeat.WORKDAYS, Repeat.WEEKLY])
targets = st.integers(0, 60)
operations = st.one_of(
    st.builds(Create, slot=slots, fields=fields, agent=st.booleans()),
    st.builds(Series, slot=slots, fields=fields, rule=rules, days=st.integers(0, 9)),
    st.builds(
        Modify,
        target=targets,
        slot=slots,
        fields=fields,
        via_update=st.booleans(),
        by_agent=st.booleans(),
        agent=st.booleans(),
    ),
    st.builds(Respond, target=targets, attendee=st.integers(0, 3), join_status=st.integers(0, 3)),
    st.builds(Cancel, target=targets),
    st.builds(
        SeriesModify,
        target=targets,
        slot=slots,
        title=st.sampled_from(["周会", "moved"]),
        actors=people,
        rule=rules,
        days=st.integers(0, 9),
        via_update=st.booleans(),
    ),
    st.builds(SeriesCancel, target=targets),
)
Operation = Create | Series | Modify | Cancel | SeriesModify | SeriesCancel | Respond


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


# --- applying operations through the SDK ---------------------------------------------------------


class Driver:
    """Applies operations through ``client``; remembers the ids it learnt (series members
    apart, so batch operations mostly hit a series)."""

    def __init__(self, client: MeetingClient, clock: Clock, service: FakeService | None) -> None:
        self.client = client
        self.service = service
        self.clock = clock
        self.ids: list[str] = []
        self.series: list[str] = []

    def pick(self, index: int, series: bool = False) -> str | None:
        pool = self.series if series and self.series else self.ids
        return pool[index % len(pool)] if pool else None

    async def apply(self, op: Operation) -> None:
        self.clock.now += 7 * 60  # writes happen at distinct instants
        try:
            await self._apply(op)
        except ApiError as error:
            # Refusals the rules allow: a cancelled meeting, a batch call on a single meeting.
            if error.error_code not in EXPECTED_CODES:
                raise

    async def _apply(self, op: Operation) -> None:
        client = self.client
        if isinstance(op, Create):
            start, end = op.slot.span()
            model = CreateMeeting(
                openid=CREATOR,
                start_date=start,
                end_date=end,
                agent=AGENT if op.agent else None,
                **_create_fields(op.fields),
            )
            meeting_id = await client.create_meeting(model)
            self.ids.append(meeting_id)
            await self._shows(meeting_id, op.slot, op.fields, AGENT if op.agent else None)
        elif isinstance(op, Series):
            start, end = op.slot.span()
            f = op.fields
            made = await client.repeat_meeting(
                RepeatMeeting(
                    openid=CREATOR,
                    title=f.title,
                    start_date=start,
                    end_date=end,
                    repeat=op.rule,
                    repeat_end_date=start + timedelta(days=op.days),
                    notice_time=f.notice,
                    actors=f.actors,
                )
            )
            self.ids.extend(made.meeting_ids)
            self.series.extend(made.meeting_ids)
        elif isinstance(op, Modify):
            await self._modify(op)
        elif isinstance(op, Cancel):
            target = self.pick(op.target)
            if target is not None:
                await client.cancel_meeting(CancelMeeting(id=target, openid=CREATOR))
        elif isinstance(op, SeriesModify):
            await self._series_modify(op)
        elif isinstance(op, Respond):
            await self._respond(op)
        else:
            target = self.pick(op.target, series=True)
            if target is not None:
                await self._series_cancel(target)

    async def _series_cancel(self, target: str) -> None:
        batch_id = (await self.client.get_meeting(GetMeeting(target))).batch_id
        batch = None if batch_id == target else batch_id
        series = await self._series(batch_id)
        await self.client.batch_cancel(BatchCancel(id=target, openid=CREATOR, batch_id=batch))
        # the target and every later occurrence cancelled, the earlier ones as they were
        when = next(d.start_date for d in series if d.id == target)
        after = {d.id: d for d in await self._series(batch_id)}
        for d in series:
            cancelled = after[d.id].cancel_time is not None
            if d.cancel_time is not None:
                assert cancelled
            elif d.id == target or d.start_date > when:  # later: cancelled
                assert cancelled, d
            elif d.start_date < when:  # earlier: untouched
                assert not cancelled, d
            # (an occurrence moved to the very start of the target: "later" is ambiguous)

    async def _modify(self, op: Modify) -> None:
        target = self.pick(op.target)
        if target is None:
            return
        start, end = op.slot.span()
        before = await self.client.get_meeting(GetMeeting(target))
        if op.via_update:
            changes: dict[str, Any] = {"start_date": start, "end_date": end}
            changes.update(title=op.fields.title, actors=op.fields.actors, room_id=op.fields.room)
            await self.client.update_meeting(target, **changes)
            after = await self.client.get_meeting(GetMeeting(target))
            _kept(before, after, changes)
            return
        agent = AGENT if op.agent else None
        model = ModifyMeeting.from_attendees(
            before.actor_ids,
            op.fields.actors,
            id=target,
            openid=AGENT if op.by_agent else CREATOR,
            start_date=start,
            end_date=end,
            agent=agent,
            **{k: v for k, v in _create_fields(op.fields).items() if k != "actors"},
        )
        try:
            await self.client.modify_meeting(model)
        except ApiError as error:
            if not (op.by_agent and error.error_code == NOT_CREATOR_ERROR_CODE):
                raise
            return
        await self._shows(target, op.slot, op.fields, agent)

    async def _shows(self, meeting_id: str, slot: Slot, f: Fields, agent: str | None) -> None:
        """detail shows what create or modify just wrote."""
        detail = await self.client.get_meeting(GetMeeting(meeting_id))
        start, end = slot.span()
        assert (detail.title, detail.start_date, detail.end_date) == (f.title, start, end)
        assert (detail.meeting_place, detail.room_id, detail.agent) == (f.place, f.room, agent)
        assert [p.openid for p in detail.participants] == list(f.actors)
        assert detail.organizer_ids == (f.organizers or ())
        notices = f.notices or (() if f.notice is None else (int(f.notice),))
        assert tuple(detail.notice_times or ()) == notices

    async def _respond(self, op: Respond) -> None:
        target = self.pick(op.target)
        if target is None or self.service is None:
            return
        attendees = self.service.meetings[target].actors
        if attendees:
            who = attendees[op.attendee % len(attendees)]
            self.service.respond(target, who, op.join_status)

    async def _series_modify(self, op: SeriesModify) -> None:
        target = self.pick(op.target, series=True)
        if target is None:
            return
        start, end = op.slot.span()
        until = start + timedelta(days=op.days)
        if op.via_update:
            before = await self.client.get_meeting(GetMeeting(target))
            changes: dict[str, Any] = {"title": op.title, "start_date": start, "end_date": end}
            changes.update(repeat=op.rule, repeat_end_date=until)
            await self.client.update_meeting(target, batch=True, **changes)
            _kept(before, await self.client.get_meeting(GetMeeting(target)), changes)
            return
        detail = await self.client.get_meeting(GetMeeting(target))
        series = await self._series(detail.batch_id)
        # Earlier occurrences start before the target (one moved to the very same start is
        # neither earlier nor later: the docs do not say, so it is left out of the checks).
        earlier = [d for d in series if d.start_date < detail.start_date]
        tied = {d.id for d in series if d.start_date == detail.start_date} - {target}
        await self.client.batch_modify(
            BatchModify.from_attendees(
                detail.actor_ids,
                op.actors,
                id=target,
                openid=CREATOR,
                title=op.title,
                start_date=start,
                end_date=end,
                repeat=op.rule,
                repeat_end_date=until,
                batch_id=None if detail.batch_id == target else detail.batch_id,
            )
        )
        # detail shows what batchModify wrote: the target and every later open occurrence
        # re-planned, the earlier ones untouched.
        after = {d.id: d for d in await self._series(detail.batch_id)}
        assert after[target].start_date == start
        for d in earlier:
            assert (after[d.id].title, after[d.id].start_date) == (d.title, d.start_date)
        changed = [
            d
            for i, d in after.items()
            if d.cancel_time is None and i not in {e.id for e in earlier} | tied
        ]
        for d in changed:
            assert (d.title, d.repeat, d.end_date - d.start_date) == (
                op.title,
                op.rule,
                end - start,
            )
            assert [p.openid for p in d.participants] == list(op.actors)

    async def _series(self, batch_id: str | None) -> list[MeetingDetail]:
        """The occurrences of series ``batch_id`` in start order (ties by id), from the reads."""
        first = datetime.combine(FIRST_DAY, datetime.min.time(), SHANGHAI)
        last = datetime.combine(LAST_DAY, datetime.max.time(), SHANGHAI)
        found = []
        for info in await self.client.query_by_range(QueryByRange(first, last)):
            detail = await self.client.get_meeting(GetMeeting(info.id))
            if detail.batch_id == batch_id:
                found.append(detail)
        return found


_UNCHANGED = (
    "title",
    "content",
    "meeting_place",
    "room_id",
    "start_date",
    "end_date",
    "openid",
    "submit_experience",
    "notice_times",
    "repeat",
    "repeat_end_date",
    "batch_id",
    "encryption",
    "share_ids",
    "agent",
    "create_date",
    "room_order_id",
)


def _kept(before: MeetingDetail, after: MeetingDetail, changes: dict[str, Any]) -> None:
    """update_meeting changed the named fields and kept every other one detail shows."""
    for name in _UNCHANGED:
        if name == "room_order_id" and "room_id" in changes:
            continue
        expected = changes.get(name, getattr(before, name))
        assert getattr(after, name) == expected, (name, before, after)
    assert after.organizer_ids == before.organizer_ids
    if "actors" in changes:
        assert [p.openid for p in after.participants] == list(changes["actors"])
    else:
        answers = [(p.openid, p.join_status) for p in after.participants]
        assert answers == [(p.openid, p.join_status) for p in before.participants]


def _create_fields(f: Fields) -> dict[str, Any]:
    return {
        "title": f.title,
        "meeting_place": f.place,
        "room_id": f.room,
        "actors": f.actors,
        "meet_organizers": f.organizers,
        "notice_time": f.notice,
        "notice_times": f.notices,
    }
