"""The nine later endpoints through the client, against the emulator (in process and over HTTP)."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from yzj_meeting import (
    BookInfo,
    CancelMeeting,
    FreeRooms,
    GetActors,
    GetAttendDetail,
    GetMeeting,
    HasNewBookings,
    JoinStatus,
    NoticeTime,
    PageRecentList,
    QueryByDay,
    QueryByRange,
    QueryByUser,
    Repeat,
    RepeatMeeting,
    ValidationError,
)
from yzj_meeting.fake import DEFAULT_ROOMS, FakeService

from .conftest import MakeClient
from .support import ScriptedTransport, ok
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


async def test_iterators_page_through_a_throttled_page_to_a_short_last_page(
    connect: Factory,
) -> None:
    service = FakeService(seed=13)
    client = await connect(service)
    ids = [
        await client.create_meeting(meeting(f"m{n}", day=DAY + timedelta(days=n), actors=["a1"]))
        for n in range(5)
    ]
    service.faults.script = ["ok", "throttle"]  # the second page is throttled once
    before = len(service.calls)

    got = [m.id async for m in client.iter_by_user(QueryByUser("a1", page_size=2))]

    assert sorted(got) == sorted(ids)
    assert len(got) == len(set(got))
    calls = service.calls[before:]
    assert [c.endpoint for c in calls] == ["queryByUser"] * 4  # pages 1, 2 (throttled), 2, 3
    assert calls[1].error_code != 0


async def test_iter_book_info_yields_pages_and_iter_free_rooms_items(connect: Factory) -> None:
    service = FakeService(seed=14)
    client = await connect(service)
    rooms = [room.room_id for room in DEFAULT_ROOMS[:3]]
    for room in rooms:
        await client.create_meeting(meeting(room_id=room))

    pages = [page async for page in client.iter_book_info(BookInfo(EID, page_size=1))]
    assert [len(page.add) for page in pages] == [1, 1, 1]
    assert sorted(b.room_id for page in pages for b in page.add) == sorted(rooms)
    sent = [c for c in service.calls if c.endpoint == "bookInfo"]
    assert len(sent) == 4  # three full pages, then an empty one ends the listing

    free = [
        r.room_id
        async for r in client.iter_free_rooms(
            FreeRooms(CREATOR, at(DAY, 10), at(DAY, 11), page_size=2)
        )
    ]
    assert sorted(free) == sorted(r.room_id for r in DEFAULT_ROOMS[3:])
    recent = [b.room_id async for b in client.iter_recent(PageRecentList(size=2))]
    assert sorted(recent) == sorted(rooms)


async def test_update_meeting_changes_only_the_named_fields(connect: Factory) -> None:
    service = FakeService(seed=15)
    client = await connect(service)
    meeting_id = await client.create_meeting(
        meeting(
            content="agenda",
            meeting_place="云8",
            room_id=ROOM,
            notice_time=NoticeTime.MINUTES_15,
            actors=["a1", "a2"],
            submit_experience=True,
        )
    )
    before = attrs.asdict(service.meetings[meeting_id])

    await client.update_meeting(meeting_id, title="renamed", actors=["a2", "a3"])

    after = attrs.asdict(service.meetings[meeting_id])
    assert after["title"] == "renamed"
    assert after["actors"] == ["a2", "a3"]
    changed = {k for k in before if before[k] != after[k]}
    assert changed <= {"title", "actors", "update_time", "responses"}, changed
    modify = [c for c in service.calls if c.endpoint == "modify"]
    assert len(modify) == 1


async def test_update_meeting_refuses_an_unknown_field_before_writing(connect: Factory) -> None:
    service = FakeService(seed=16)
    client = await connect(service)
    meeting_id = await client.create_meeting(meeting())
    with pytest.raises(ValidationError) as info:
        await client.update_meeting(meeting_id, titel="typo")
    assert info.value.field == "titel"
    assert not [c for c in service.calls if c.endpoint == "modify"]


async def test_update_meeting_batch_changes_this_and_later_occurrences(connect: Factory) -> None:
    service = FakeService(seed=17)
    client = await connect(service)
    series = await client.repeat_meeting(
        RepeatMeeting(
            openid=CREATOR,
            title="daily",
            start_date=at(DAY, 9),
            end_date=at(DAY, 10),
            repeat=Repeat.DAILY,
            repeat_end_date=at(DAY + timedelta(days=3), 9),
            content="keep me",
        )
    )
    second = series.meeting_ids[1]

    await client.update_meeting(second, batch=True, title="moved")

    titles = [service.meetings[i].title for i in series.meeting_ids]
    assert titles[0] == "daily"
    assert set(titles[1:]) == {"moved"}
    assert {service.meetings[i].content for i in series.meeting_ids} == {"keep me"}
    assert [c.endpoint for c in service.calls].count("batchModify") == 1


async def test_newer_fields_are_sent_when_set_and_kept_by_update(connect: Factory) -> None:
    service = FakeService(seed=18)
    client = await connect(service)
    meeting_id = await client.create_meeting(
        meeting(
            actors=["a1"],
            notice_times=[5, 15],
            meet_organizers=[CREATOR],
            encryption=True,
            share_ids=["g1"],
            agent="ag1",
        )
    )
    stored = service.meetings[meeting_id]
    assert (stored.notice_times, stored.meet_organizers) == ([5, 15], [CREATOR])
    assert (stored.encryption, stored.share_ids, stored.agent) == (True, ["g1"], "ag1")
    before = attrs.asdict(stored)

    await client.update_meeting(meeting_id, content="new agenda")

    after = attrs.asdict(service.meetings[meeting_id])
    assert after["content"] == "new agenda"
    assert {k for k in before if before[k] != after[k]} <= {"content", "update_time"}
    [info] = await client.query_by_day(QueryByDay(DAY))
    assert info.notice_times == (5, 15)


def test_notice_time_and_notice_times_are_exclusive() -> None:
    with pytest.raises(ValidationError) as info:
        meeting(notice_time=NoticeTime.MINUTES_15, notice_times=[15])
    assert info.value.field == "notice_times"


async def test_query_by_day_reads_notice_time_as_an_empty_list(make_client: MakeClient) -> None:
    item = {"id": "m1", "title": "t", "startDate": 1, "endDate": 2}
    data = [{**item, "noticeTime": []}, {**item, "id": "m2", "noticeTime": [15, 5]}]
    client = make_client(ScriptedTransport(answers=[ok(data)]))
    day = await client.query_by_day(QueryByDay(DAY))
    assert [(m.id, m.notice_time, m.notice_times) for m in day] == [
        ("m1", None, None),
        ("m2", None, (15, 5)),
    ]
