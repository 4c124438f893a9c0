"""Request models of the later endpoints: validation before anything is sent, and exact bodies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from yzj_meeting import SHANGHAI, MeetingStatus, ValidationError
from yzj_meeting._lenient import read_request
from yzj_meeting.details import (
    GetAttendDetail,
    GetMeeting,
    PageRecentList,
    QueryByRange,
    QueryByUser,
)
from yzj_meeting.later_endpoints import (
    body_book_info,
    body_free_rooms,
    body_has_new_bookings,
    body_page_recent_list,
    body_query_by_range,
    body_query_by_user,
)
from yzj_meeting.rooms import BookInfo, FreeRooms, GetActors, HasNewBookings

START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
END = START + timedelta(hours=1)
NAIVE = datetime(2026, 3, 2, 9, 0)


def field_of(build: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        build()
    return caught.value.field


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: GetMeeting(), "id"),
        (lambda: GetMeeting(""), "id"),
        (lambda: GetMeeting(123), "id"),
        (lambda: GetAttendDetail(" "), "meeting_id"),
        (lambda: GetActors(None), "order_id"),
        (lambda: HasNewBookings(""), "eid"),
        (lambda: QueryByRange(NAIVE, END), "start"),
        (lambda: QueryByRange(START, None), "end"),
        (lambda: QueryByRange(START, START), "end"),
        (lambda: QueryByRange(END, START), "end"),
        (lambda: PageRecentList(last_time=NAIVE), "last_time"),
        (lambda: PageRecentList(page=0), "page"),
        (lambda: PageRecentList(size=True), "size"),
        (lambda: PageRecentList(size="10"), "size"),
        (lambda: PageRecentList(room_ids=["ok", ""]), "room_ids[1]"),
        (lambda: PageRecentList(room_ids="abc"), "room_ids"),
        (lambda: QueryByUser(""), "open_id"),
        (lambda: QueryByUser("oid", status=7), "status"),
        (lambda: QueryByUser("oid", page_size=0), "page_size"),
        (lambda: BookInfo("10109", page_size=51), "page_size"),
        (lambda: BookInfo("10109", page_index=0), "page_index"),
        (lambda: BookInfo("10109", NAIVE), "last_time"),
        (lambda: FreeRooms("oid", START, END, page_size=51), "page_size"),
        (lambda: FreeRooms("oid", END, START), "end"),
        (lambda: FreeRooms("", START, END), "open_id"),
    ],
)
def test_bad_input_names_the_field(build: Any, field: str) -> None:
    assert field_of(build) == field


def test_page_size_error_says_the_maximum() -> None:
    with pytest.raises(ValidationError, match="at most 50"):
        BookInfo("10109", page_size=100)
    assert BookInfo("10109", page_size=50).page_size == 50


def test_defaults_are_the_documented_ones() -> None:
    assert (PageRecentList().page, PageRecentList().size) == (1, 10)
    user = QueryByUser("oid")
    assert (user.page_num, user.page_size, user.status) == (1, 20, None)
    assert (BookInfo("e").page_index, BookInfo("e").page_size) == (1, 50)
    rooms = FreeRooms("oid", START, END)
    assert (rooms.page_index, rooms.page_size) == (1, 50)


def test_status_accepts_the_int() -> None:
    assert QueryByUser("oid", status=1).status is MeetingStatus.DONE


def test_bodies_send_paging_always_and_optional_fields_only_when_set() -> None:
    assert body_page_recent_list(PageRecentList()) == {"page": 1, "size": 10}
    assert body_page_recent_list(
        PageRecentList(last_time=START, page=3, size=50, room_ids=("r1",))
    ) == {"lastTime": 1772413200000, "page": 3, "size": 50, "roomIds": ["r1"]}
    assert body_query_by_user(QueryByUser("oid", status=MeetingStatus.OPEN, page_num=2)) == {
        "pageNum": 2,
        "pageSize": 20,
        "openId": "oid",
        "status": 0,
    }
    assert body_has_new_bookings(HasNewBookings("e")) == {"eid": "e"}
    assert body_book_info(BookInfo("e", START, page_index=2, page_size=5)) == {
        "eid": "e",
        "lastTime": 1772413200000,
        "pageIndex": 2,
        "pageSize": 5,
    }
    assert body_free_rooms(FreeRooms("oid", START, END)) == {
        "openId": "oid",
        "startTime": 1772413200000,
        "endTime": 1772416800000,
        "pageIndex": 1,
        "pageSize": 50,
    }
    assert body_query_by_range(QueryByRange(START, END)) == {
        "start": 1772413200000,
        "end": 1772416800000,
    }


def test_instants_in_any_zone_are_the_same_ms() -> None:
    utc = START.astimezone(tz=None)
    assert body_query_by_range(QueryByRange(utc, END)) == body_query_by_range(
        QueryByRange(START, END)
    )


def test_read_request_names_the_wire_field() -> None:
    with pytest.raises(ValidationError) as caught:
        read_request(FreeRooms, {"openId": "o", "startTime": "soon", "endTime": 1})
    assert caught.value.field == "startTime"
    with pytest.raises(ValidationError) as caught:
        read_request(BookInfo, {"eid": "e", "pageSize": 60})
    assert caught.value.field == "page_size"
    with pytest.raises(ValidationError) as caught:
        read_request(BookInfo, ["eid"])
    assert caught.value.field == "body"
