"""The endpoint table: every row has a client method and wire hooks; ``call`` sends any model;
a new attrs model travels camelCase with no registration."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import attrs
import pytest

from yzj_meeting import MeetingClient, ValidationError
from yzj_meeting._convert import converter, unstructure
from yzj_meeting.endpoints import BUILDERS, BY_MODEL, ENDPOINTS, MEETING_PATH, build
from yzj_meeting.models import WIRE_FLAG, WIRE_NAME

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


def test_the_table_has_one_row_per_model_and_name() -> None:
    assert len({row.name for row in ENDPOINTS}) == len(ENDPOINTS)
    assert set(BY_MODEL) == {row.model for row in ENDPOINTS} == set(BUILDERS)
    assert {type(m) for m in EXAMPLES} == set(BY_MODEL)


@pytest.mark.parametrize("row", ENDPOINTS, ids=lambda r: r.name)
def test_every_row_has_a_client_method_taking_its_model(row: Any) -> None:
    method = getattr(MeetingClient, row.method, None)
    assert method is not None, row.method
    assert inspect.iscoroutinefunction(method), row.method
    first = next(iter(list(inspect.signature(method).parameters.values())[1:]))
    assert row.model.__name__ in str(first.annotation)


@pytest.mark.parametrize("row", ENDPOINTS, ids=lambda r: r.name)
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


@pytest.mark.parametrize("model", EXAMPLES, ids=lambda m: type(m).__name__)
async def test_call_sends_any_model_as_its_method_does(make_client: MakeClient, model: Any) -> None:
    answers = {"create": {"meetingId": "m-1"}, "repeatMeeting": {"meetingIds": ["a", "b"]}}
    row = BY_MODEL[type(model)]
    answer = ok(answers.get(row.name))
    via_call, via_method = ScriptedTransport(answers=[answer]), ScriptedTransport(answers=[answer])
    got = await make_client(via_call).call(model)
    expected = await getattr(make_client(via_method), row.method)(model)
    assert got == expected
    sent = [(path_of(r), body_of(r)) for r in via_call.meeting_requests]
    assert sent == [(path_of(r), body_of(r)) for r in via_method.meeting_requests]
    assert len(sent) == 1


async def test_call_refuses_what_is_not_a_model(make_client: MakeClient) -> None:
    transport = ScriptedTransport()
    with pytest.raises(ValidationError) as info:
        await make_client(transport).call({"openid": "x"})
    assert info.value.field == "model"
    assert transport.requests == []
