"""queryByDay / queryByRange meetings: one odd field never fails a meeting, one odd meeting
never fails a day, and the fast path reads exactly what the field-by-field reader reads."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting import MeetingInfo, MeetingType, NoticeTime
from yzj_meeting._lenient import MEETING_ALIASES, _fast_meeting, _notice_list, _read_model
from yzj_meeting.endpoints import parse_query_by_day
from yzj_meeting.later_endpoints import parse_meeting_list

FULL: dict[str, Any] = {
    "id": "5b86ed2fbeb7cc35af769eb8",
    "title": "测试会议",
    "startDate": 1535558400000,
    "endDate": 1535644799999,
    "openid": "5a67e1e1e4b02f1de22a70a3",
    "type": "sign",
    "content": "在京举行还很好",
    "meetingPlace": "云8会议室",
    "meetingStatus": 1,
    "readStatus": 1,
    "acceptStatus": 2,
    "personName": "张三",
    "doneTime": 1535569199741,
    "noticeTime": 15,
    "createDate": 1535569199741,
    "roomId": "xx",
    "roomOrderId": "",
    "cancelDate": 1535569199742,
    "cancelReason": "moved",
    "noticeTimes": [15, 60],
}
REQUIRED = ("id", "title", "startDate", "endDate")
WIRE = {
    "openid": "openid",
    "meetingPlace": "meeting_place",
    "meetingStatus": "meeting_status",
    "readStatus": "read_status",
    "acceptStatus": "accept_status",
    "personName": "person_name",
    "doneTime": "done_time",
    "noticeTime": "notice_time",
    "createDate": "create_date",
    "roomId": "room_id",
    "roomOrderId": "room_order_id",
    "cancelDate": "cancel_date",
    "cancelReason": "cancel_reason",
    "noticeTimes": "notice_times",
    "startDate": "start_date",
    "endDate": "end_date",
}
# A value of every JSON type, and the edge values of each.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    7,
    10**30,
    1.5,
    2.0,
    "",
    "text",
    "15",
    [],
    [1, "a"],
    [None],
    {},
    {"a": 1},
]
BASELINE = parse_query_by_day([FULL])[0]


def _attribute(wire: str) -> str:
    return WIRE.get(wire, wire)


@pytest.mark.parametrize("reader", [parse_query_by_day, parse_meeting_list])
@pytest.mark.parametrize("field", list(FULL))
@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_any_value_in_any_field_never_fails_the_day(reader: Any, field: str, value: Any) -> None:
    other = {**FULL, "id": "other"}
    day = reader([{**FULL, field: value}, other])
    assert day[-1].id == "other"  # the next meeting is always read
    if len(day) == 1:  # this meeting was dropped: only for a required field
        assert field in REQUIRED
        return
    info = day[0]
    for attribute in attrs.fields(MeetingInfo):
        paired = {field, attribute.name} == {"noticeTime", "notice_times"}  # a list moves
        if attribute.name != _attribute(field) and not paired:
            assert getattr(info, attribute.name) == getattr(BASELINE, attribute.name), (
                attribute.name
            )


def test_the_known_aliases_and_real_deployment_shapes() -> None:
    [info] = parse_query_by_day(
        [
            {
                **{k: FULL[k] for k in REQUIRED},
                "openId": "oid",
                "noticeTime": [],
                "meetingPlace": None,
                "createDate": 0,
                "doneTime": 0,
                "type": "video",
                "approve": "0",
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
    assert info.type == "video"
    assert type(info.type) is str


def test_a_notice_time_list_is_read_as_notice_times_on_both_lists() -> None:
    item = {**FULL, "noticeTime": [5, 15]}
    item.pop("noticeTimes")
    for reader in (parse_query_by_day, parse_meeting_list):
        [info] = reader([item])
        assert (info.notice_time, info.notice_times) == (None, (5, 15))


def test_the_fast_path_reads_the_full_meeting() -> None:
    info = _fast_meeting(FULL)
    assert info is not None
    assert info.type is MeetingType.SIGN
    assert info.notice_time is NoticeTime.MINUTES_15
    assert info == _read_model(MeetingInfo, FULL, "x", MEETING_ALIASES)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@given(st.dictionaries(st.sampled_from([*FULL, "openId"]), _JSON | st.integers(0, 2**45)))
def test_fast_path_and_field_by_field_reader_agree(changes: dict[str, Any]) -> None:
    item = {**FULL, **changes}
    fast = _fast_meeting(item)
    try:
        slow = _read_model(MeetingInfo, _notice_list(item), "x", MEETING_ALIASES)
    except Exception:
        slow = None
    if fast is not None:
        assert fast == slow
    [*day] = parse_query_by_day([item])
    assert day == ([slow] if slow is not None else [])
