"""The wire format: request bodies of every endpoint, and tolerant reading of answers."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting import (
    SHANGHAI,
    AcceptStatus,
    BatchModify,
    CreateMeeting,
    MeetingInfo,
    MeetingStatus,
    MeetingType,
    NoticeTime,
    ProtocolError,
    QueryByDay,
    ReadStatus,
    Repeat,
    RepeatSeries,
)
from yzj_meeting._convert import converter, from_ms, to_camel, to_ms
from yzj_meeting._operations import (
    build,
    build_batch_cancel,
    build_batch_modify,
    build_cancel,
    build_create,
    build_modify,
    build_query_by_day,
    build_repeat_meeting,
    parse_create,
    parse_nothing,
    parse_query_by_day,
    parse_repeat_meeting,
)

from .support import (
    END,
    START,
    a_batch_cancel,
    a_batch_modify,
    a_cancel,
    a_create,
    a_modify,
    a_query,
    a_repeat,
)

START_MS = 1522729800000
END_MS = 1522737000000


def wire(request: Any) -> dict[str, Any]:
    body = request.body
    assert isinstance(body, bytes)
    decoded = json.loads(body.decode("utf-8"))
    assert type(decoded) is dict
    return decoded


# --- instants ---


def test_seed_instants() -> None:
    assert to_ms(START) == START_MS
    assert to_ms(END) == END_MS


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2018, 4, 3, 4, 30, tzinfo=UTC), 1522729800000),
        (datetime(2018, 4, 3, 4, 30, 0, 999999, tzinfo=UTC), 1522729800999),
        (datetime(2018, 4, 3, 4, 30, 0, 1000, tzinfo=UTC), 1522729800001),
        (datetime(2018, 4, 3, 4, 30, 0, 999, tzinfo=UTC), 1522729800000),
        # non-UTC fixed offsets, including a half-hour one
        (
            datetime(2018, 4, 2, 23, 0, 0, 1000, tzinfo=timezone(timedelta(hours=-5.5))),
            1522729800001,
        ),
        (
            datetime(2018, 4, 3, 10, 0, 0, 123000, tzinfo=timezone(timedelta(hours=5.5))),
            1522729800123,
        ),
        # a named zone in daylight saving time (EDT, UTC-4)
        (datetime(2018, 4, 3, 0, 30, tzinfo=ZoneInfo("America/New_York")), 1522729800000),
        # beyond what a float of seconds holds exactly
        (datetime(2200, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), 7258118400999),
        (datetime(1970, 1, 1, 8, tzinfo=SHANGHAI), 0),
    ],
)
def test_instants_are_exact_epoch_milliseconds(instant: datetime, expected: int) -> None:
    assert to_ms(instant) == expected
    body = wire(build_create(a_create(start_date=instant, end_date=instant + timedelta(days=1))))
    assert body["startDate"] == expected
    assert type(body["startDate"]) is int


zones = st.one_of(
    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    st.timezones(),
)


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=zones)
)
def test_to_ms_matches_an_independent_computation(instant: datetime) -> None:
    utc = instant.astimezone(UTC)
    expected = calendar.timegm(utc.timetuple()) * 1000 + utc.microsecond // 1000
    assert to_ms(instant) == expected
    back = from_ms(expected)
    assert back == utc - timedelta(microseconds=utc.microsecond % 1000)
    assert back.utcoffset() == timedelta(hours=8)


def test_from_ms_accepts_numeric_strings() -> None:
    assert from_ms("1535558400000") == from_ms(1535558400000)
    assert from_ms(1535558400000) == datetime(2018, 8, 30, tzinfo=SHANGHAI)


def test_to_camel() -> None:
    assert to_camel("meeting_place") == "meetingPlace"
    assert to_camel("repeat_end_date") == "repeatEndDate"
    assert to_camel("openid") == "openid"


# --- request bodies, one per endpoint ---


def test_create_body_every_field() -> None:
    model = a_create(
        title="测试会议",
        content="新增会议测试",
        meeting_place="云8会议室",
        room_id="room-9",
        notice_time=NoticeTime.MINUTES_15,
        top_state=True,
        actors=("a", "b"),
        type=MeetingType.SIGN,
        submit_experience=True,
    )
    request = build_create(model)
    assert request.endpoint == "create"
    assert request.path == "/gateway/cloudwork/meeting/create"
    assert request.idempotent is False
    assert request.model is model
    assert request.day == START
    assert wire(request) == {
        "openid": "oid-1",
        "title": "测试会议",
        "content": "新增会议测试",
        "meetingPlace": "云8会议室",
        "startDate": START_MS,
        "endDate": END_MS,
        "roomId": "room-9",
        "noticeTime": 15,
        "topState": 1,
        "actors": ["a", "b"],
        "type": "sign",
        "submitExperience": True,
    }


def test_create_body_minimal_omits_unset_fields() -> None:
    assert wire(build_create(a_create())) == {
        "openid": "oid-1",
        "title": "Weekly",
        "startDate": START_MS,
        "endDate": END_MS,
    }


def test_false_and_zero_values_are_sent_not_omitted() -> None:
    body = wire(
        build_create(
            a_create(
                top_state=False,
                submit_experience=False,
                notice_time=NoticeTime.AT_START,
                actors=[],
                content="",
            )
        )
    )
    assert body["topState"] == 0
    assert type(body["topState"]) is int
    assert body["submitExperience"] is False
    assert body["noticeTime"] == 0
    assert body["actors"] == []
    assert body["content"] == ""


def test_notice_none_is_minus_one_and_voice_type() -> None:
    body = wire(build_create(a_create(notice_time=-1, type="voice", top_state=False)))
    assert body["noticeTime"] == -1
    assert body["type"] == "voice"
    assert body["topState"] == 0


def test_modify_body() -> None:
    model = a_modify(
        content="更新会议测试",
        meeting_place="云8会议室",
        room_id="r",
        notice_time=60,
        top_state=0,
        actors=["a", "c"],
        add_actors=["c"],
        del_actors=["b"],
        submit_experience=False,
    )
    request = build_modify(model)
    assert request.path == "/gateway/cloudwork/meeting/modify"
    assert request.idempotent is True
    assert wire(request) == {
        "id": "m-1",
        "openid": "oid-1",
        "title": "Weekly",
        "content": "更新会议测试",
        "meetingPlace": "云8会议室",
        "startDate": START_MS,
        "endDate": END_MS,
        "roomId": "r",
        "noticeTime": 60,
        "topState": 0,
        "actors": ["a", "c"],
        "addActors": ["c"],
        "delActors": ["b"],
        "submitExperience": False,
    }


def test_cancel_body() -> None:
    request = build_cancel(a_cancel())
    assert request.path == "/gateway/cloudwork/meeting/cancel"
    assert request.idempotent is True
    assert wire(request) == {"id": "m-1", "openid": "oid-1"}


def test_repeat_meeting_body() -> None:
    model = a_repeat(
        content="c",
        notice_time=0,
        top_state=True,
        actors=["x"],
        submit_experience=True,
        repeat=Repeat.WORKDAYS,
        repeat_end_date=datetime(2018, 7, 4, 7, 3, 20, tzinfo=UTC),
    )
    request = build_repeat_meeting(model)
    assert request.path == "/gateway/cloudwork/meeting/repeatMeeting"
    assert request.idempotent is False
    assert request.day == START
    body = wire(request)
    assert body == {
        "openid": "oid-1",
        "title": "Standup",
        "content": "c",
        "startDate": START_MS,
        "endDate": END_MS,
        "noticeTime": 0,
        "topState": 1,
        "actors": ["x"],
        "submitExperience": True,
        "repeat": 1,
        "repeatEndDate": 1530687800000,
    }
    assert type(body["repeat"]) is int


def test_repeat_end_date_is_sent_as_given_not_rounded() -> None:
    end = datetime(2018, 4, 10, 17, 45, 12, 345678, tzinfo=SHANGHAI)
    body = wire(build_repeat_meeting(a_repeat(repeat_end_date=end)))
    assert body["repeatEndDate"] == to_ms(end) == 1523353512345


def test_batch_modify_body() -> None:
    request = build_batch_modify(
        a_batch_modify(actors=["a"], add_actors=["a"], del_actors=[], repeat=Repeat.MONTHLY)
    )
    assert request.path == "/gateway/cloudwork/meeting/batchModify"
    assert request.idempotent is True
    assert wire(request) == {
        "id": "m-2",
        "openid": "oid-1",
        "title": "Standup",
        "startDate": START_MS,
        "endDate": END_MS,
        "repeat": 5,
        "repeatEndDate": START_MS + 7 * 86_400_000,
        "actors": ["a"],
        "addActors": ["a"],
        "delActors": [],
        "batchId": "m-1",
    }


def test_batch_modify_of_the_parent_omits_batch_id() -> None:
    assert "batchId" not in wire(build_batch_modify(a_batch_modify(batch_id=None)))


def test_batch_cancel_body() -> None:
    request = build_batch_cancel(a_batch_cancel())
    assert request.path == "/gateway/cloudwork/meeting/batchCancel"
    assert wire(request) == {"id": "m-2", "openid": "oid-1", "batchId": "m-1"}
    assert wire(build_batch_cancel(a_batch_cancel(batch_id=None))) == {
        "id": "m-2",
        "openid": "oid-1",
    }


def test_query_by_day_body() -> None:
    request = build_query_by_day(a_query())
    assert request.path == "/gateway/cloudwork/meeting/queryByDay"
    assert request.idempotent is True
    assert wire(request) == {"day": START_MS}


@pytest.mark.parametrize(
    "model",
    [a_create(), a_modify(), a_cancel(), a_repeat(), a_batch_modify(), a_batch_cancel(), a_query()],
)
def test_build_dispatches_on_the_model(model: Any) -> None:
    request = build(model)
    assert request.model is model
    assert request.path.endswith("/" + request.endpoint)
    assert request.body


def test_build_refuses_what_is_not_a_model() -> None:
    from yzj_meeting import ValidationError

    with pytest.raises(ValidationError):
        build({"openid": "x"})


def test_request_repr_shows_no_body() -> None:
    request = build_create(a_create(title="private-title"))
    assert "private-title" not in repr(request)


# --- reading request bodies (the emulator's direction) ---


def test_request_models_read_numeric_strings() -> None:
    model = converter.structure(
        {
            "id": "x",
            "openid": "o",
            "title": "t",
            "startDate": "1530002768912",
            "endDate": 1530687800000,
            "repeat": "1",
            "repeatEndDate": 1533549600000,
            "topState": 0,
            "noticeTime": "15",
            "unknown": [1, 2],
        },
        BatchModify,
    )
    assert model.repeat is Repeat.WORKDAYS
    assert model.top_state is False
    assert model.notice_time is NoticeTime.MINUTES_15
    assert to_ms(model.start_date) == 1530002768912


def test_query_by_day_reads_back() -> None:
    query = converter.structure({"day": 1533549600000}, QueryByDay)
    assert wire(build_query_by_day(query)) == {"day": 1533549600000}


def test_create_round_trip() -> None:
    model = a_create(actors=["a"], top_state=True, notice_time=15, type="voice", content="c")
    body = wire(build_create(model))
    again = converter.structure(body, CreateMeeting)
    assert again == model


# --- reading answers ---

SEED_ITEM: dict[str, Any] = {
    "openid": "5a67e1e1e4b02f1de22a70a3",
    "type": "sign",
    "title": "测试会议",
    "content": "在京举行还很好",
    "meetingPlace": "云8会议室",
    "meetingStatus": 1,
    "readStatus": 1,
    "acceptStatus": 2,
    "personName": "张三",
    "doneTime": 1535569199741,
    "id": "5b86ed2fbeb7cc35af769eb8",
    "noticeTime": 0,
    "startDate": 1535558400000,
    "endDate": 1535644799999,
    "createDate": 1535569199741,
    "roomId": "xx",
    "roomOrderId": "",
}
REQUIRED = {"id": "x1", "title": "T", "startDate": 1535558400000, "endDate": 1535644799999}


def test_meeting_info_reads_every_field() -> None:
    [info] = parse_query_by_day([SEED_ITEM])
    assert info == MeetingInfo(
        id="5b86ed2fbeb7cc35af769eb8",
        title="测试会议",
        start_date=datetime(2018, 8, 30, tzinfo=SHANGHAI),
        end_date=datetime(2018, 8, 30, 23, 59, 59, 999000, tzinfo=SHANGHAI),
        openid="5a67e1e1e4b02f1de22a70a3",
        type=MeetingType.SIGN,
        content="在京举行还很好",
        meeting_place="云8会议室",
        meeting_status=MeetingStatus.DONE,
        read_status=ReadStatus.READ,
        accept_status=AcceptStatus.ACCEPTED,
        person_name="张三",
        done_time=from_ms(1535569199741),
        notice_time=NoticeTime.AT_START,
        create_date=from_ms(1535569199741),
        room_id="xx",
        room_order_id="",
    )
    assert to_ms(info.done_time) == 1535569199741  # type: ignore[arg-type]


def test_meeting_info_ignores_unknown_fields() -> None:
    [info] = parse_query_by_day(
        [{**REQUIRED, "approve": 1, "noticeTimes": [15, 60], "recordInfo": {"a": [1]}}]
    )
    assert info.id == "x1"


def test_meeting_info_reads_numeric_strings() -> None:
    [info] = parse_query_by_day(
        [
            {
                **REQUIRED,
                "startDate": "1535558400000",
                "noticeTime": "15",
                "meetingStatus": "2",
                "doneTime": "1535569199741",
                "acceptStatus": "0",
            }
        ]
    )
    assert info.start_date == datetime(2018, 8, 30, tzinfo=SHANGHAI)
    assert info.notice_time is NoticeTime.MINUTES_15
    assert info.meeting_status is MeetingStatus.DELETED
    assert info.accept_status is AcceptStatus.NO_ANSWER
    assert to_ms(info.done_time) == 1535569199741  # type: ignore[arg-type]


def test_meeting_info_missing_or_null_optional_fields_are_none() -> None:
    [bare, nulls] = parse_query_by_day(
        [REQUIRED, {**REQUIRED, **dict.fromkeys(["openid", "type", "doneTime", "noticeTime"])}]
    )
    for info in (bare, nulls):
        assert info.openid is None
        assert info.type is None
        assert info.done_time is None
        assert info.notice_time is None
        assert info.meeting_status is None
        assert info.room_order_id is None


def test_meeting_info_empty_type_is_an_ordinary_meeting() -> None:
    [info] = parse_query_by_day([{**REQUIRED, "type": ""}])
    assert info.type is None


def test_empty_answers() -> None:
    assert parse_query_by_day([]) == []
    assert parse_query_by_day(None) == []


@pytest.mark.parametrize("field", ["id", "title", "startDate", "endDate"])
def test_a_meeting_missing_a_required_field_is_dropped_not_the_day(
    field: str, caplog: pytest.LogCaptureFixture
) -> None:
    item = {k: v for k, v in REQUIRED.items() if k != field}
    with caplog.at_level("WARNING", logger="yzj_meeting"):
        day = parse_query_by_day([REQUIRED, item, {**REQUIRED, "id": "x2"}])
    assert [m.id for m in day] == ["x1", "x2"]
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert "queryByDay[1]" in record.getMessage()
    assert field in record.getMessage()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ["x"]),
        ("title", None),
        ("id", {"a": 1}),
        ("startDate", "soon"),
        ("startDate", True),
        ("endDate", {}),
        ("endDate", 1.5),
    ],
)
def test_a_required_field_of_the_wrong_type_drops_that_meeting(field: str, value: Any) -> None:
    day = parse_query_by_day([{**REQUIRED, field: value}, {**REQUIRED, "id": "x2"}])
    assert [m.id for m in day] == ["x2"]


@pytest.mark.parametrize(
    ("field", "attribute", "value"),
    [
        ("noticeTime", "notice_time", "soon"),
        ("noticeTime", "notice_time", 1.5),
        ("meetingStatus", "meeting_status", "open"),
        ("type", "type", ["sign"]),
        ("doneTime", "done_time", [1]),
        ("openid", "openid", 1.25),
        ("createDate", "create_date", 10**30),
    ],
)
def test_an_optional_field_of_the_wrong_type_is_dropped_with_a_debug_log(
    field: str, attribute: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG", logger="yzj_meeting"):
        [info] = parse_query_by_day([{**SEED_ITEM, field: value}])
    assert getattr(info, attribute) is None
    assert info.title == SEED_ITEM["title"]
    assert info.meeting_place == SEED_ITEM["meetingPlace"]
    [record] = [r for r in caplog.records if field in r.getMessage()]
    assert record.levelname == "DEBUG"


def test_a_dropped_field_never_logs_the_answer_values(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="yzj_meeting"):
        day = parse_query_by_day(
            [
                {**REQUIRED, "startDate": "value-from-the-answer"},
                {**REQUIRED, "content": ["value-from-the-answer"]},
            ]
        )
    assert len(day) == 1
    assert caplog.records
    assert all("value-from-the-answer" not in r.getMessage() for r in caplog.records)


def test_meeting_info_keeps_unknown_enum_values_as_plain_values() -> None:
    # Newer servers add reminder times and kinds: one odd meeting must not fail the whole day.
    [info] = parse_query_by_day(
        [{**REQUIRED, "noticeTime": 30, "type": "video", "meetingStatus": "7", "readStatus": 9}]
    )
    assert info.notice_time == 30
    assert type(info.notice_time) is int
    assert info.type == "video"
    assert type(info.type) is str
    assert info.meeting_status == 7
    assert type(info.meeting_status) is int
    assert info.read_status == 9


@pytest.mark.parametrize("data", [{"id": "x"}, "meetings", 5, True])
def test_query_answer_of_the_wrong_shape_is_a_protocol_error(data: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_query_by_day(data)


@pytest.mark.parametrize("item", [5, None, [REQUIRED], "x"])
def test_an_item_that_is_not_an_object_is_dropped(item: Any) -> None:
    assert [m.id for m in parse_query_by_day([item, REQUIRED])] == ["x1"]


def test_parse_create() -> None:
    assert parse_create({"meetingId": "5b61"}) == "5b61"
    assert parse_create({"meetingId": "5b61", "extra": 1}) == "5b61"


@pytest.mark.parametrize("data", [None, {}, {"meetingId": ""}, {"meetingId": 5}, ["x"], "x"])
def test_parse_create_refuses_answers_without_an_id(data: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_create(data)
    assert info.value.endpoint == "create"


def test_parse_repeat_meeting() -> None:
    series = parse_repeat_meeting({"meetingIds": ["p", "c1", "c2"]})
    assert series == RepeatSeries(meeting_ids=["p", "c1", "c2"])
    assert series.parent_id == "p"


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"meetingIds": []},
        {"meetingIds": "p"},
        {"meetingIds": ["p", 5]},
        {"meetingIds": [""]},
    ],
)
def test_parse_repeat_meeting_refuses_bad_answers(data: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_repeat_meeting(data)


@pytest.mark.parametrize("data", [None, {}, {"x": 1}, []])
def test_parse_nothing(data: Any) -> None:
    assert parse_nothing(data) is None


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
