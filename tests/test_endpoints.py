"""The endpoint table: every row has a client method and wire hooks; ``call`` sends any model;
a new attrs model travels camelCase with no registration."""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from yzj_meeting import MeetingClient, ValidationError
from yzj_meeting._convert import converter, unstructure
from yzj_meeting.details import (
    GetAttendDetail,
    GetMeeting,
    PageRecentList,
    QueryByRange,
    QueryByUser,
)
from yzj_meeting.endpoints import BUILDERS, BY_MODEL, ENDPOINTS, LATER, MEETING_PATH, build
from yzj_meeting.later_endpoints import ROOM_BOOK_PATH
from yzj_meeting.models import WIRE_FLAG, WIRE_NAME
from yzj_meeting.rooms import BookInfo, FreeRooms, GetActors, HasNewBookings

from .conftest import MakeClient
from .support import (
    START,
    ScriptedTransport,
    a_batch_cancel,
    a_batch_modify,
    a_cancel,
    a_create,
    a_modify,
    a_query,
    a_repeat,
    body_of,
    ok,
    path_of,
)

EXAMPLES = [a_create(), a_modify(), a_cancel(), a_repeat(), a_batch_modify(), a_batch_cancel()]
EXAMPLES.append(a_query())
LATER_EXAMPLES: list[Any] = [
    GetMeeting("m-1"),
    QueryByRange(START, START + timedelta(days=1)),
    PageRecentList(page=2, size=5, room_ids=("r1",)),
    QueryByUser("u1", page_num=2),
    GetAttendDetail("m-1"),
    HasNewBookings("eid1", START),
    BookInfo("eid1", START, page_index=2),
    FreeRooms("u1", START, START + timedelta(hours=1)),
    GetActors("o-1"),
]
LATER_ANSWERS: dict[str, Any] = {"detail": {"id": "m-1"}, "hasNew": {"hasNew": True}}
ROOM_NAMES = {"hasNew", "bookInfo", "freeRooms", "getActors"}
SEED_ROWS = [row for row in ENDPOINTS if row not in LATER]


def test_the_table_has_one_row_per_model_and_name() -> None:
    assert len({row.name for row in ENDPOINTS}) == len(ENDPOINTS)
    assert set(BY_MODEL) == {row.model for row in ENDPOINTS} == set(BUILDERS)
    assert {type(m) for m in EXAMPLES + LATER_EXAMPLES} == set(BY_MODEL)


@pytest.mark.parametrize("row", ENDPOINTS, ids=lambda r: r.name)
def test_every_row_has_a_client_method_taking_its_model(row: Any) -> None:
    method = getattr(MeetingClient, row.method, None)
    assert method is not None, row.method
    assert inspect.iscoroutinefunction(method), row.method
    first = next(iter(list(inspect.signature(method).parameters.values())[1:]))
    assert row.model.__name__ in str(first.annotation)


@pytest.mark.parametrize("row", SEED_ROWS, ids=lambda r: r.name)
def test_every_row_model_has_wire_hooks(row: Any) -> None:
    model = next(m for m in EXAMPLES if type(m) is row.model)
    body = unstructure(model)
    assert body
    assert all("_" not in key for key in body)
    assert converter.structure(body, row.model) is not None
    request = build(model)
    assert request.path == MEETING_PATH + row.name
    assert request.idempotent is row.idempotent
    assert (request.day is not None) is (not row.idempotent)


@pytest.mark.parametrize("row", LATER, ids=lambda r: r.name)
def test_every_later_row_builds_with_its_body_builder_and_path(row: Any) -> None:
    model = next(m for m in LATER_EXAMPLES if type(m) is row.model)
    request = build(model)
    assert request.path == row.path
    assert request.path.startswith(ROOM_BOOK_PATH if row.name in ROOM_NAMES else MEETING_PATH)
    assert json.loads(request.body) == row.body(model)
    assert all("_" not in key for key in json.loads(request.body))
    assert request.idempotent
    assert request.day is None


@attrs.frozen
class _Probe:
    meeting_place: str
    start_date: datetime
    room_id: str | None = None
    top_state: bool | None = attrs.field(default=None, metadata={WIRE_FLAG: True})
    odd_name: str | None = attrs.field(default=None, metadata={WIRE_NAME: "ODD"})


def test_a_model_defined_anywhere_goes_out_camel_case() -> None:
    probe = _Probe("Room 1", START, top_state=True, odd_name="x")
    assert unstructure(probe) == {
        "meetingPlace": "Room 1",
        "startDate": 1522729800000,
        "topState": 1,
        "ODD": "x",
    }
    assert converter.structure(unstructure(probe), _Probe) == probe


@pytest.mark.parametrize("model", EXAMPLES + LATER_EXAMPLES, ids=lambda m: type(m).__name__)
async def test_call_sends_any_model_as_its_method_does(make_client: MakeClient, model: Any) -> None:
    answers = {"create": {"meetingId": "m-1"}, "repeatMeeting": {"meetingIds": ["a", "b"]}}
    answers.update(LATER_ANSWERS)
    row = BY_MODEL[type(model)]
    answer = ok(answers.get(row.name))
    via_call, via_method = ScriptedTransport(answers=[answer]), ScriptedTransport(answers=[answer])
    got = await make_client(via_call).call(model)
    expected = await getattr(make_client(via_method), row.method)(model)
    assert got == expected
    sent = [(path_of(r), body_of(r)) for r in via_call.requests if path_of(r) == row.path]
    assert sent == [(path_of(r), body_of(r)) for r in via_method.requests if path_of(r) == row.path]
    assert len(sent) == 1


async def test_call_refuses_what_is_not_a_model(make_client: MakeClient) -> None:
    transport = ScriptedTransport()
    with pytest.raises(ValidationError) as info:
        await make_client(transport).call({"openid": "x"})
    assert info.value.field == "model"
    assert transport.requests == []
