"""The nine later endpoints through the client, against the emulator (in process and over HTTP)."""

from __future__ import annotations

from datetime import timedelta

from yzj_meeting import (
    BookInfo,
    CancelMeeting,
    FreeRooms,
    GetActors,
    GetAttendDetail,
    GetMeeting,
    HasNewBookings,
    JoinStatus,
    PageRecentList,
    QueryByDay,
    QueryByRange,
    QueryByUser,
)
from yzj_meeting.fake import DEFAULT_ROOMS, FakeService

from .test_emulator import CREATOR, DAY, Factory, at, connect, meeting

__all__ = ["connect"]

ROOM = DEFAULT_ROOMS[0].room_id
EID = "eid-1"  # the workspace of the clients made by ``connect``


async def test_detail_range_user_and_attendance(connect: Factory) -> None:
    service = FakeService(seed=11)
    client = await connect(service)
    first = await client.create_meeting(meeting("a", actors=["a1", "a2"], room_id=ROOM))
    second = await client.create_meeting(meeting("b", day=DAY + timedelta(days=1), actors=["a1"]))
    service.respond(first, "a2", 2)

    detail = await client.get_meeting(GetMeeting(first))
    assert (detail.id, detail.title, detail.openid) == (first, "a", CREATOR)
    assert [(p.openid, p.join_status) for p in detail.participants] == [
        ("a1", JoinStatus.NO_ANSWER),
        ("a2", JoinStatus.JOINING),
    ]
    day = await client.query_by_day(QueryByDay(DAY))
    ranged = await client.query_by_range(QueryByRange(at(DAY, 0), at(DAY, 23, 59)))
    assert [m.id for m in ranged] == [m.id for m in day] == [first]
    mine = await client.query_by_user(QueryByUser("a1", page_size=1))
    assert [m.id for m in mine] == [first]
    rest = await client.query_by_user(QueryByUser("a1", page_num=2, page_size=1))
    assert [m.id for m in rest] == [second]

    service.check_in(first, "a1")
    attend = await client.get_attend_detail(GetAttendDetail(first))
    assert [r.attend_status for r in attend.records] == ["已签到", "未签到"]

    await client.cancel_meeting(CancelMeeting(id=first, openid=CREATOR))
    cancelled = await client.get_meeting(GetMeeting(first))
    assert cancelled.cancel_time is not None
    assert {p.join_status for p in cancelled.participants} == {JoinStatus.CANCELLED}


async def test_room_bookings_free_rooms_and_actors(connect: Factory) -> None:
    service = FakeService(seed=12)
    client = await connect(service)
    assert await client.has_new_bookings(HasNewBookings(EID)) is False
    meeting_id = await client.create_meeting(meeting(actors=["a1", "a2"], room_id=ROOM))

    assert await client.has_new_bookings(HasNewBookings(EID)) is True
    changes = await client.book_info(BookInfo(EID))
    assert [b.room_id for b in changes.add] == [ROOM]
    assert changes.delete == ()
    recent = await client.page_recent_list(PageRecentList())
    assert [b.id for b in recent] == [meeting_id]

    free = await client.free_rooms(FreeRooms(CREATOR, at(DAY, 10), at(DAY, 11)))
    assert ROOM not in [r.room_id for r in free]
    assert len(free) == len(DEFAULT_ROOMS) - 1

    order = service.meetings[meeting_id].room_order_id
    assert order is not None
    actors = await client.get_actors(GetActors(order))
    assert [a.open_id for a in actors] == ["a1", "a2"]
    sent = {call.endpoint for call in service.calls}
    assert {"hasNew", "bookInfo", "pageRecentList", "freeRooms", "getActors"} <= sent
