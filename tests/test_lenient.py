"""Tolerant reading of the later endpoints' answers: mixed shapes are read, one odd field is
dropped (DEBUG), one odd item never fails the page, and success is decided by ``success``."""

from __future__ import annotations

import json
import logging

import pytest

from yzj_meeting import DEFAULT_TOKEN_ERROR_CODES, ApiError, NoticeTime, ProtocolError
from yzj_meeting._convert import to_ms
from yzj_meeting._envelope import decode_envelope
from yzj_meeting.details import JoinStatus
from yzj_meeting.later_endpoints import (
    parse_book_info,
    parse_free_rooms,
    parse_get_attend_detail,
    parse_get_meeting,
    parse_has_new_bookings,
    parse_meeting_list,
    parse_page_recent_list,
    parse_query_by_user,
)
from yzj_meeting.rooms import ApproveStatus

SECRET_VALUE = "do-not-log-this-value"


def envelope(answer: dict[str, object], status: int = 200) -> object:
    return decode_envelope(
        status,
        {},
        json.dumps(answer, ensure_ascii=False).encode(),
        endpoint="x",
        token_error_codes=DEFAULT_TOKEN_ERROR_CODES,
    )


@pytest.mark.parametrize("message", ["success", "正确访问", "", None])
def test_success_is_decided_by_success_whatever_the_code(message: str | None) -> None:
    data = {"hasNew": True}
    assert envelope({"success": True, "errorCode": 200, "error": message, "data": data}) == data
    assert envelope({"success": True, "errorCode": 100, "error": message, "data": data}) == data


def test_failure_with_code_200_is_still_a_failure() -> None:
    with pytest.raises(ApiError) as caught:
        envelope({"success": False, "errorCode": 200, "error": "无权限", "data": None})
    assert caught.value.error_code == 200


def booking(**fields: object) -> dict[str, object]:
    return {"id": "m1", "roomOrderId": "o1", **fields}


@pytest.mark.parametrize(
    ("wire", "ms"),
    [(1538064000000, 1538064000000), ("1538064000000", 1538064000000), (1.5e12, 1500000000000)],
)
def test_timestamps_as_numbers_or_strings(wire: object, ms: int) -> None:
    [item] = parse_page_recent_list([booking(updateTime=wire)])
    assert item.update_time is not None
    assert to_ms(item.update_time) == ms


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        *[(True, True), ("true", True), ("TRUE", True), (1, True), ("1", True)],
        *[(False, False), ("false", False), (0, False), ("0", False)],
    ],
)
def test_booleans_in_every_documented_shape(wire: object, value: bool) -> None:
    [item] = parse_page_recent_list([booking(deleted=wire)])
    assert item.deleted is value
    [room] = parse_free_rooms([{"roomId": "r", "approve": wire}])
    assert room.approve is value
    assert parse_has_new_bookings({"hasNew": wire}) is value


@pytest.mark.parametrize("wire", [0, "0", 2, "2"])
def test_booking_approve_is_a_status_read_from_int_or_string(wire: object) -> None:
    [item] = parse_page_recent_list([booking(approve=wire)])
    assert item.approve == ApproveStatus(int(str(wire)))
    assert isinstance(item.approve, ApproveStatus)


def test_unknown_enum_value_is_kept_as_the_plain_value() -> None:
    [item] = parse_page_recent_list([booking(approve=9)])
    assert item.approve == 9
    assert not isinstance(item.approve, ApproveStatus)


def test_unknown_fields_are_ignored() -> None:
    [item] = parse_page_recent_list([booking(somethingNew={"a": 1}, title="t")])
    assert item.title == "t"


def test_odd_field_is_dropped_with_a_debug_log_naming_it_not_its_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="yzj_meeting")
    [item] = parse_page_recent_list(
        [booking(title="kept", updateTime={"v": SECRET_VALUE}, deleted=SECRET_VALUE)]
    )
    assert (item.title, item.update_time, item.deleted) == ("kept", None, None)
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    text = " ".join(r.getMessage() for r in debug)
    assert "updateTime" in text
    assert "deleted" in text
    assert SECRET_VALUE not in caplog.text


def test_odd_item_never_fails_the_page_and_still_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="yzj_meeting")
    items = [
        {"roomId": "r1"},
        {"roomName": SECRET_VALUE},  # no roomId: unreadable
        "not an object",
        {"roomId": "r4", "limitCount": "many"},  # odd optional field: item kept
    ]
    page = parse_free_rooms(items)
    assert [r.room_id for r in page] == ["r1", "r4"]
    assert page[1].limit_count is None
    assert page.received == 4
    assert "freeRooms[1].roomId" in caplog.text
    assert SECRET_VALUE not in caplog.text


def test_a_booking_without_any_identity_is_dropped_but_counted() -> None:
    page = parse_page_recent_list([{"title": "no id"}, booking()])
    assert len(page) == 1
    assert page.received == 2


def test_null_list_is_an_empty_page_and_a_non_list_is_a_protocol_error() -> None:
    assert parse_query_by_user(None) == []
    with pytest.raises(ProtocolError, match="queryByUser"):
        parse_query_by_user({"list": []})


def test_detail_without_id_is_a_protocol_error_naming_the_field() -> None:
    with pytest.raises(ProtocolError, match=r"detail\.id"):
        parse_get_meeting({"title": "t"})
    with pytest.raises(ProtocolError):
        parse_get_meeting(None)


def test_detail_reads_notice_time_or_notice_times_and_odd_participants() -> None:
    detail = parse_get_meeting(
        {
            "id": "m",
            "noticeTime": 15,
            "participants": [
                {"openId": "a", "joinStatus": "4"},
                {"openid": "b", "joinStatus": 2, "mandataryOid": "c, d"},
                ["odd"],
            ],
            "cancelTime": "1538064000000",
        }
    )
    assert detail.notice_times == (NoticeTime.MINUTES_15,)
    assert [p.openid for p in detail.participants] == ["a", "b"]
    assert detail.participants[0].join_status is JoinStatus.CANCELLED
    assert detail.actor_ids == ("b",)  # a's invitation was cancelled
    assert detail.participants[1].mandataries == ("c", "d")
    assert detail.cancel_time is not None
    assert to_ms(detail.cancel_time) == 1538064000000


def test_meeting_list_reads_real_deployment_shapes() -> None:
    # meeting-api.md, "Answer shapes seen in real deployments".
    [info] = parse_meeting_list(
        [
            {
                "id": "m",
                "title": "t",
                "startDate": 1,
                "endDate": "2",
                "openId": "oid",
                "noticeTime": [],
                "meetingPlace": None,
                "createDate": 0,
                "doneTime": 0,
                "approve": "0",
                "record": False,
            }
        ]
    )
    assert info.openid == "oid"
    assert (info.notice_time, info.meeting_place, info.create_date, info.done_time) == (
        None,
        None,
        None,
        None,
    )


def test_book_info_counts_both_lists_and_tolerates_missing_ones() -> None:
    changes = parse_book_info({"add": [{"orderId": "1"}, {"orderId": "2"}], "delete": None})
    assert [b.room_order_id for b in changes.add] == ["1", "2"]
    assert changes.delete == ()
    assert changes.received == 2
    assert parse_book_info(None).received == 0
    with pytest.raises(ProtocolError, match="bookInfo"):
        parse_book_info([])


def test_has_new_without_a_boolean_is_a_protocol_error() -> None:
    for data in (None, {}, {"hasNew": "maybe"}, {"hasNew": 2}):
        with pytest.raises(ProtocolError, match="hasNew"):
            parse_has_new_bookings(data)


def test_attend_detail_reads_a_list_too() -> None:
    detail = parse_get_attend_detail(
        [{"userName": "a", "attendStatus": "已签到"}, {"userName": "b", "attendStatus": "--"}]
    )
    assert [r.checked_in for r in detail.records] == [True, None]
    assert detail.records[1].attend_status is None
