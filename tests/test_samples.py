"""The seed document's JSON examples, both directions, for all seven endpoints.

Request sample -> ``converter.structure`` -> ``build_*`` -> body bytes: the body is the sample,
field for field and type for type (one explicit normalisation: batchModify's ``"repeat": "1"``
is sent as the int ``1``). Answer sample -> ``decode_envelope`` -> ``parse_*``: the Python values
the seed describes. See ``samples/README.md`` for how the files differ from the seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting import (
    DEFAULT_TOKEN_ERROR_CODES,
    AcceptStatus,
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    MeetingInfo,
    MeetingStatus,
    MeetingType,
    ModifyMeeting,
    NoticeTime,
    QueryByDay,
    ReadStatus,
    RepeatMeeting,
    RepeatSeries,
)
from yzj_meeting._convert import converter, to_ms
from yzj_meeting._envelope import decode_envelope
from yzj_meeting._operations import (
    MEETING_PATH,
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

SAMPLES = Path(__file__).parent / "samples"


def at(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


SEED_MEETING = MeetingInfo(
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
    accept_status=AcceptStatus.ACCEPTED,
    person_name="张三",
    done_time=at(1535569199741),
    notice_time=NoticeTime.AT_START,
    create_date=at(1535569199741),
    room_id="xx",
    room_order_id="",
)

# endpoint -> (model class, builder, parser, expected answer value)
CASES: dict[str, tuple[type, Callable[[Any], Any], Callable[[Any], Any], Any]] = {
    "create": (CreateMeeting, build_create, parse_create, "xxxxx"),
    "modify": (ModifyMeeting, build_modify, parse_nothing, None),
    "cancel": (CancelMeeting, build_cancel, parse_nothing, None),
    "repeatMeeting": (
        RepeatMeeting,
        build_repeat_meeting,
        parse_repeat_meeting,
        RepeatSeries(
            meeting_ids=[
                "5b614fe80e4f78209cb99689",
                "5b61504e0e4f78209cb99690",
                "5b61504e0e4f78209cb9968f",
            ]
        ),
    ),
    "batchModify": (BatchModify, build_batch_modify, parse_nothing, None),
    "batchCancel": (BatchCancel, build_batch_cancel, parse_nothing, None),
    "queryByDay": (QueryByDay, build_query_by_day, parse_query_by_day, [SEED_MEETING]),
}


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so that ``0 != False`` and ``1 != "1"``."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


@pytest.mark.parametrize("endpoint", list(CASES))
def test_seed_sample(endpoint: str) -> None:
    cls, builder, parser, expected_answer = CASES[endpoint]
    request_bytes = (SAMPLES / f"{endpoint}.request.json").read_bytes()
    answer_bytes = (SAMPLES / f"{endpoint}.response.json").read_bytes()

    # request sample -> model -> wire body
    sample = json.loads(request_bytes)
    model = converter.structure(sample, cls)
    assert type(model) is cls
    request = builder(model)
    assert request.endpoint == endpoint
    assert request.path == MEETING_PATH + endpoint
    sent = json.loads(request.body)
    expected = dict(sample)
    if endpoint == "batchModify":
        # The seed sends "repeat": "1"; the SDK sends the int (meeting-api.md, batchModify).
        assert expected["repeat"] == "1"
        expected["repeat"] = 1
    assert typed(sent) == typed(expected)

    # answer sample -> envelope -> Python value
    data = decode_envelope(
        200,
        {"content-type": "application/json"},
        answer_bytes,
        endpoint=endpoint,
        token_error_codes=DEFAULT_TOKEN_ERROR_CODES,
    )
    result = parser(data)
    assert result == expected_answer
    assert request.decode(data) == expected_answer
    if endpoint == "repeatMeeting":
        assert result.parent_id == "5b614fe80e4f78209cb99689"
    if endpoint == "queryByDay":
        [info] = result
        assert to_ms(info.start_date) == 1535558400000
        assert to_ms(info.end_date) == 1535644799999
        assert to_ms(info.done_time) == 1535569199741
        assert to_ms(info.create_date) == 1535569199741
        assert info.type is MeetingType.SIGN
        assert info.notice_time is NoticeTime.AT_START
