"""The later public docs' JSON examples, both directions, for the nine endpoints beyond the seed.

Request sample -> ``read_request`` -> ``body_*``: the body is the sample, field for field and type
for type (one explicit normalisation: ``lastTime`` quoted in the room-booking examples is sent as
a number). Answer sample -> ``decode_envelope`` -> ``parse_*``: the values the docs describe.
See ``samples/README.md`` for how the files differ from the docs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting import DEFAULT_TOKEN_ERROR_CODES, MeetingStatus, MeetingType, NoticeTime, Repeat
from yzj_meeting._convert import to_ms
from yzj_meeting._envelope import decode_envelope
from yzj_meeting._lenient import read_request
from yzj_meeting.details import (
    AttendDetail,
    AttendRecord,
    CurrentActor,
    JoinStatus,
    MeetingDetail,
    UserMeeting,
)
from yzj_meeting.later_endpoints import LATER_ENDPOINTS, MEETING_PATH, ROOM_BOOK_PATH
from yzj_meeting.models import MeetingInfo, ReadStatus
from yzj_meeting.rooms import ApproveStatus, Booking, BookingChanges, Room, RoomActor

SAMPLES = Path(__file__).parent / "samples"
ROWS = {row.name: row for row in LATER_ENDPOINTS}


def at(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so that ``0 != False`` and ``1 != "1"``."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def answer(endpoint: str) -> Any:
    return decode_envelope(
        200,
        {"content-type": "application/json"},
        (SAMPLES / f"{endpoint}.response.json").read_bytes(),
        endpoint=endpoint,
        token_error_codes=DEFAULT_TOKEN_ERROR_CODES,
    )


def test_every_later_endpoint_has_a_row_and_its_path() -> None:
    assert list(ROWS) == [
        "detail",
        "queryByRange",
        "pageRecentList",
        "queryByUser",
        "getAttendDetail",
        "hasNew",
        "bookInfo",
        "freeRooms",
        "getActors",
    ]
    for name, row in ROWS.items():
        prefix = (
            ROOM_BOOK_PATH
            if name in {"hasNew", "bookInfo", "freeRooms", "getActors"}
            else (MEETING_PATH)
        )
        assert row.path == prefix + name
        assert row.idempotent  # they only read


@pytest.mark.parametrize("endpoint", list(ROWS))
def test_request_sample_round_trip(endpoint: str) -> None:
    row = ROWS[endpoint]
    sample = json.loads((SAMPLES / f"{endpoint}.request.json").read_bytes())
    model = read_request(row.model, sample)
    assert type(model) is row.model
    expected = dict(sample)
    if endpoint in ("hasNew", "bookInfo"):
        # The docs quote lastTime here; the SDK sends the number (samples/README.md).
        assert expected["lastTime"] == "1538064000000"
        expected["lastTime"] = 1538064000000
    assert typed(row.body(model)) == typed(expected)


def test_detail_answer() -> None:
    detail = ROWS["detail"].parse(answer("detail"))
    assert type(detail) is MeetingDetail
    assert detail.id == "5b33275f14cada62e4e44840"
    assert (detail.title, detail.content, detail.meeting_place) == (
        "测试会议",
        "新增会议测试",
        "云8会议室",
    )
    assert to_ms(detail.start_date) == 1522729800000
    assert to_ms(detail.end_date) == 1522737000000
    assert detail.status is MeetingStatus.OPEN
    assert detail.submit_experience is True
    assert detail.encryption is False
    assert detail.organizer_ids == ("5a67e08d00b0e8dfe4aab4fa",)
    assert detail.actor_ids == ("5a67e1e1e4b02f1de22a70a3",)
    [person] = detail.participants
    assert person.join_status is JoinStatus.JOINING
    assert person.read_status is ReadStatus.READ
    assert person.notice_times == (5, NoticeTime.MINUTES_15, NoticeTime.HOUR_1)
    assert to_ms(person.join_date) == 1522721000000
    assert person.mandataries == ()
    assert detail.notice_times == (5, 15, 60)
    assert detail.repeat is Repeat.NONE
    # 0 is "no time": not cancelled, no series end.
    assert detail.cancel_time is None
    assert detail.repeat_end_date is None
    assert (detail.batch_id, detail.agent, detail.record_info) == (None, None, None)
    assert detail.images == []


def test_query_by_range_answer_is_query_by_day_items() -> None:
    [info] = ROWS["queryByRange"].parse(answer("queryByRange"))
    assert info == MeetingInfo(
        id="5b86ed2fbeb7cc35af769eb8",
        title="测试会议",
        start_date=at(1535558400000),
        end_date=at(1535644799999),
        openid="5a67e1e1e4b02f1de22a70a3",
        type=MeetingType.SIGN,
        content="在京举行还很好",
        meeting_place="云8会议室",
        meeting_status=MeetingStatus.DONE,
        read_status=ReadStatus.READ,
        accept_status=2,
        person_name="张三",
        done_time=at(1535569199741),
        notice_time=NoticeTime.AT_START,
        create_date=at(1535569199741),
        room_id="xx",
        room_order_id="",
    )


def test_page_recent_list_answer() -> None:
    page = ROWS["pageRecentList"].parse(answer("pageRecentList"))
    assert page.received == 1
    assert page == [
        Booking(
            id="612f37faaf3efa0ed89fc332",
            room_order_id="612f37f93d8e4300017071bc",
            oid="5facdaf8e4b0957f4040e34f",
            name="xx",
            title="新建5",
            content="",
            room_id="5ffed889d8345f0001d0e18f",
            room_name=None,
            room_detail="wjn会议室试试",
            start_time=at(1630484462938),
            end_time=at(1630488062938),
            create_time=at(1630484474295),
            update_time=at(1630484493333),
            approve=ApproveStatus.NOT_REQUIRED,
            deleted=True,
            batch_id="612f37faaf3efa0ed89fc332",
            parent_batch_ids=(),
            batch_size=1,
        )
    ]


def test_query_by_user_answer() -> None:
    assert ROWS["queryByUser"].parse(answer("queryByUser")) == [
        UserMeeting(
            id="5fdc699daf0cab00011be447",
            title="test",
            start_date=at(1608280429057),
            end_date=at(1608284029057),
            open_id="5fd738d3e4b002b997549efd",
            person_name="张三",
            content="test",
            create_date=at(1608280477189),
            work_status=MeetingStatus.DONE,
            done_time=at(1608284040080),
            cancel_time=None,
            record=False,
            current_actor=CurrentActor(
                open_id="5fd738d3e4b002b997549efd",
                work_status=MeetingStatus.DONE,
                work_source="1",
                done_time=at(1608284040039),
            ),
        )
    ]


def test_get_attend_detail_answer_with_error_code_200() -> None:
    detail = ROWS["getAttendDetail"].parse(answer("getAttendDetail"))
    assert detail == AttendDetail(
        records=(
            AttendRecord(
                user_name="xxx",
                attend_status="未签到",
                attend_time=None,
                accept_status="未响应",
                department="xxx",
                department_lone_name="xxx/xxx/xxxxx",
                company_name="xxxxxxxxxx",
                mobile="xxxxxxxxxxx",
                work_no=None,
            ),
        )
    )
    assert detail.records[0].checked_in is False


def test_has_new_answer() -> None:
    assert ROWS["hasNew"].parse(answer("hasNew")) is True


def test_book_info_answer() -> None:
    changes = ROWS["bookInfo"].parse(answer("bookInfo"))
    assert type(changes) is BookingChanges
    assert changes.received == 2
    [added] = changes.add
    [deleted] = changes.delete
    assert added == Booking(
        room_order_id="eeafjkdslfjsldjfdsf",
        oid="5f17ff17e4b04b91****5b",
        name="何****",
        eid="10109",
        title="云*****论",
        content="*****",
        room_id="6100be01650c******492",
        room_name="23F会议室",
        room_detail=None,
        day="2018-09-29",
        start_time=at(1538202600000),
        end_time=at(1538209800000),
        create_time=at(1538201890395),
        update_time=at(1538201890395),
        approve=ApproveStatus.NOT_REQUIRED,
    )
    assert (deleted.room_name, deleted.room_detail, deleted.day) == ("A304", "A栋-3F", "2018-09-28")
    assert deleted.approve is ApproveStatus.NOT_REQUIRED  # "0", a string in this answer


def test_free_rooms_answer() -> None:
    assert ROWS["freeRooms"].parse(answer("freeRooms")) == [
        Room(
            room_id="5c121cfd7453ed63750a9767",
            room_name="冥王星1号",
            room_detail="啊啊啊啊啊",
            note="小猪佩",
            tag_id=None,
            limit_count=99999999,
            approve=True,
        )
    ]


def test_get_actors_answer() -> None:
    assert ROWS["getActors"].parse(answer("getActors")) == [
        RoomActor(
            open_id="5c32b90b84aef86b358bc9cc",
            user_name="陈*波",
            header_url="http://192.168.22.144/space/c/photo/load?id=54f7b6b116b2e39217000002",
        ),
        RoomActor(
            open_id="5b652863e4b0689c4f38b1d3",
            user_name="陈*略",
            header_url="http://192.168.22.144/space/c/photo/load?id=5b602f57b6238e0c44043f51",
        ),
    ]
