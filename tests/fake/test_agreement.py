"""Property: whatever create/repeatMeeting/modify/cancel/batchModify/batchCancel did, the
emulator's reads agree with each other.

Random sequences of writes go through the SDK client (FakeTransport; a smaller run over
AiohttpTransport against the emulator in its own process); then ``detail``, ``queryByDay``,
``queryByRange``, ``queryByUser``, ``pageRecentList``, ``bookInfo``, ``hasNew``, ``getActors``
and ``getAttendDetail`` must show the same meetings with the same fields (see ``agree``);
each write also reads back as written (create, modify, batchModify, batchCancel) and
``update_meeting`` keeps what it was not told to change. To hunt longer:
``YZJ_AGREEMENT_EXAMPLES=2000 YZJ_AGREEMENT_OPS=25 pytest tests/fake/test_agreement.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yzj_meeting import (
    SHANGHAI,
    AiohttpTransport,
    BookInfo,
    Credentials,
    FakeTransport,
    FreeRooms,
    GetActors,
    GetAttendDetail,
    GetMeeting,
    HasNewBookings,
    JoinStatus,
    MeetingClient,
    MeetingDetail,
    MeetingInfo,
    MeetingStatus,
    PageRecentList,
    QueryByDay,
    QueryByRange,
    QueryByUser,
    RetryPolicy,
    TokenProvider,
)
from yzj_meeting.fake import (
    DEFAULT_ROOMS,
    FakeService,
)

from .agreement_driver import (
    AGENT,
    CREATOR,
    DAY,
    EID,
    FIRST_DAY,
    LAST_DAY,
    PEOPLE,
    ROOT,
    Clock,
    Driver,
    Operation,
    operations,
)

# --- the agreement -------------------------------------------------------------------------------


def _day_of(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def _people_of(detail: MeetingDetail) -> set[str]:
    # every participant: those of a cancelled meeting show joinStatus 4 but still see it
    found = {detail.openid or "", *detail.organizer_ids}
    found.update(p.openid or "" for p in detail.participants)
    if detail.agent:
        found.add(detail.agent)
    return found


def _notices(info: MeetingInfo) -> tuple[int, ...]:
    if info.notice_times is not None:
        return tuple(info.notice_times)
    return () if info.notice_time is None else (int(info.notice_time),)


def _same_meeting(info: MeetingInfo, detail: MeetingDetail) -> None:
    """A queryByDay/queryByRange item and the detail of the same meeting agree."""
    shared = ("id", "title", "start_date", "end_date", "openid", "content", "meeting_place")
    shared += ("create_date", "room_id", "room_order_id", "person_name", "cancel_reason")
    for name in shared:
        assert getattr(info, name) == getattr(detail, name), (name, info, detail)
    assert info.cancel_date == detail.cancel_time, (info, detail)
    cancelled = detail.cancel_time is not None
    assert (info.meeting_status == MeetingStatus.DELETED) == cancelled, (info, detail)
    assert detail.status == (0 if info.meeting_status == MeetingStatus.OPEN else 1), detail
    joins = {p.join_status for p in detail.participants}
    assert joins <= ({JoinStatus.CANCELLED} if cancelled else set(JoinStatus) - {4}), detail
    assert _notices(info) == tuple(detail.notice_times or ()), (info, detail)


async def agree(client: MeetingClient, service: FakeService | None) -> dict[str, MeetingDetail]:
    """Check every read against the others (and, in process, against the stored meetings)."""
    first = datetime.combine(FIRST_DAY, datetime.min.time(), SHANGHAI)
    last = datetime.combine(LAST_DAY, datetime.max.time(), SHANGHAI)
    ranged = await client.query_by_range(QueryByRange(first, last))
    ids = [m.id for m in ranged]
    assert len(ids) == len(set(ids))
    if service is not None:  # nothing stored outside the window, nothing lost
        assert set(ids) == set(service.meetings)
    assert [m.start_date for m in ranged] == sorted(m.start_date for m in ranged)

    details = {i: await client.get_meeting(GetMeeting(i)) for i in ids}
    infos = {m.id: m for m in ranged}
    for info in ranged:
        _same_meeting(info, details[info.id])

    days = sorted({_day_of(m.start_date) for m in ranged} | {DAY})
    for day in days:
        listed = await client.query_by_day(QueryByDay(day))
        assert listed == [m for m in ranged if _day_of(m.start_date) == day], day
        one_day = await client.query_by_range(
            QueryByRange(
                datetime.combine(day, datetime.min.time(), SHANGHAI),
                datetime.combine(day, datetime.max.time(), SHANGHAI),
            )
        )
        assert one_day == listed, day

    await _users_agree(client, details, infos)
    await _bookings_agree(client, details)
    return details


async def _users_agree(
    client: MeetingClient, details: dict[str, MeetingDetail], infos: dict[str, MeetingInfo]
) -> None:
    for user in (CREATOR, AGENT, *PEOPLE):
        mine = [m async for m in client.iter_by_user(QueryByUser(user, page_size=3))]
        got = [m.id for m in mine]
        assert len(got) == len(set(got)), user
        assert set(got) == {i for i, d in details.items() if user in _people_of(d)}, user
        for item in mine:
            detail, info = details[item.id], infos[item.id]
            for name in ("title", "start_date", "end_date", "content", "create_date", "agent"):
                assert getattr(item, name) == getattr(detail, name), (name, item, detail)
            assert (item.open_id, item.person_name) == (detail.openid, detail.person_name)
            assert item.work_status == info.meeting_status, (item, info)
            assert item.cancel_time == detail.cancel_time, (item, detail)
            assert item.done_time == info.done_time, (item, info)
            assert item.current_actor is not None
            assert item.current_actor.open_id == user
            assert item.current_actor.work_status == info.meeting_status
        for status in MeetingStatus:
            only = [m.id async for m in client.iter_by_user(QueryByUser(user, status=status))]
            assert only == [m.id for m in mine if m.work_status == status], (user, status)


async def _bookings_agree(client: MeetingClient, details: dict[str, MeetingDetail]) -> None:
    recent = [b async for b in client.iter_recent(PageRecentList(size=4))]
    assert len({b.room_order_id for b in recent}) == len(recent)
    booked = {i for i, d in details.items() if d.room_id}
    assert booked <= {b.id for b in recent}
    series_sizes = Counter(d.batch_id for d in details.values() if d.batch_id)
    for booking in recent:
        assert booking.id is not None
        detail = details[booking.id]
        cancelled = detail.cancel_time is not None
        assert booking.deleted == (cancelled or not detail.room_id), (booking, detail)
        if not booking.deleted:
            assert (booking.room_id, booking.room_order_id) == (
                detail.room_id,
                detail.room_order_id,
            )
            actors = await client.get_actors(GetActors(booking.room_order_id or ""))
            assert [a.open_id for a in actors] == list(detail.actor_ids)
        assert booking.title == detail.title
        assert booking.content == detail.content
        assert booking.oid == detail.openid
        assert (booking.start_time, booking.end_time) == (detail.start_date, detail.end_date)
        assert booking.create_time == detail.create_date
        assert booking.batch_id == (detail.batch_id or detail.id)
        assert booking.batch_size == (series_sizes[detail.batch_id] if detail.batch_id else 1)
    pages = [p async for p in client.iter_book_info(BookInfo(EID, page_size=3))]
    add = [b for p in pages for b in p.add]
    delete = [b for p in pages for b in p.delete]
    by_order = {b.room_order_id: b for b in recent}
    assert sorted(b.room_order_id or "" for b in add + delete) == sorted(by_order)
    for item in add + delete:
        seen = by_order[item.room_order_id]
        assert seen.deleted == (item in delete), (item, seen)
        assert (item.title, item.start_time, item.end_time) == (
            seen.title,
            seen.start_time,
            seen.end_time,
        )
        assert (item.create_time, item.update_time) == (seen.create_time, seen.update_time)
    latest = max((b.update_time for b in recent if b.update_time), default=None)
    assert await client.has_new_bookings(HasNewBookings(EID, latest)) is False
    if latest is not None:
        before = latest - timedelta(milliseconds=1)
        assert await client.has_new_bookings(HasNewBookings(EID, before)) is True
    for detail in details.values():
        attend = await client.get_attend_detail(GetAttendDetail(detail.id))
        answers = [(r.user_name, r.accept_status) for r in attend.records]
        if detail.cancel_time is None:  # a cancelled meeting's participants all show 4
            expected = [(p.person_name, _ACCEPT[p.join_status or 0]) for p in detail.participants]
            assert answers == expected, (attend, detail)
        else:
            assert [a for a, _ in answers] == [p.person_name for p in detail.participants]
    await _free_rooms_agree(client, details)


_ACCEPT = {0: "未响应", 1: "不参与", 2: "参与", 3: "委托参与"}


async def _free_rooms_agree(client: MeetingClient, details: dict[str, MeetingDetail]) -> None:
    """freeRooms over each live booking's window: every room but those booked in it."""
    live = [d for d in details.values() if d.room_id and d.cancel_time is None]
    catalogue = {room.room_id for room in DEFAULT_ROOMS}
    for detail in live[:4]:
        start, end = detail.start_date, detail.end_date
        assert start is not None
        assert end is not None
        busy = {
            d.room_id
            for d in live
            if d.start_date is not None
            and d.end_date is not None
            and d.start_date < end
            and d.end_date > start
        }
        query = FreeRooms(CREATOR, start, end, page_size=2)
        free = [r.room_id async for r in client.iter_free_rooms(query)]
        assert len(free) == len(set(free))
        assert set(free) == catalogue - busy, (detail, busy)


# --- the runs ----------------------------------------------------------------------------------


def _client(base_url: str, transport: Any, clock: Clock) -> MeetingClient:
    tokens = TokenProvider(
        Credentials(eid=EID, secret="secret-1"),
        base_url=base_url,
        transport=transport,
        wall_clock=clock,  # the emulator's clock: token timestamps must match it
    )
    return MeetingClient(
        token_provider=tokens,
        base_url=base_url,
        transport=transport,
        calls_per_minute=None,
        retry=RetryPolicy(max_attempts=1),
    )


async def _run_in_process(ops: list[Operation]) -> None:
    clock = Clock()
    service = FakeService(seed=1, clock=clock, calls_per_minute=None, record_calls=False)
    async with _client("http://emulator.invalid", FakeTransport(service), clock) as client:
        driver = Driver(client, clock, service)
        for op in ops:
            await driver.apply(op)
        await agree(client, service)


EXAMPLES = int(os.environ.get("YZJ_AGREEMENT_EXAMPLES", "200"))  # raise it to hunt longer


@settings(max_examples=EXAMPLES, deadline=None)
@given(ops=st.lists(operations, max_size=int(os.environ.get("YZJ_AGREEMENT_OPS", "12"))))
def test_reads_agree_after_any_writes(ops: list[Operation]) -> None:
    asyncio.run(_run_in_process(ops))


@asynccontextmanager
async def _emulator_process() -> AsyncIterator[str]:
    """``python -m yzj_meeting.fake`` on a free port of 127.0.0.1; yields its base URL."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "yzj_meeting.fake",
        "--port",
        "0",
        "--calls-per-minute",
        "0",
        "--seed",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base = line.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:"), line
        yield base
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.communicate(), 20)
            except TimeoutError:
                process.kill()
                await process.communicate()


class _WallClock(Clock):
    def __call__(self) -> float:
        return time.time()


@settings(max_examples=8, deadline=None)
@given(ops=st.lists(operations, min_size=4, max_size=10))
def test_reads_agree_over_http_with_the_emulator_in_its_own_process(
    ops: list[Operation],
) -> None:
    async def run() -> None:
        clock = _WallClock()  # the server in its own process keeps the real time
        async with (
            _emulator_process() as base,
            _client(base, AiohttpTransport(), clock) as client,
        ):
            driver = Driver(client, clock, None)
            for op in ops:
                await driver.apply(op)
            details = await agree(client, None)
            assert set(driver.ids) <= set(details)  # every meeting made is listed

    asyncio.run(run())
