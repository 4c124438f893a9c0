"""Pure request building and answer decoding, one ``build_*``/``parse_*`` pair per endpoint.

Nothing here performs I/O or knows the token: a ``Request`` says where to send what, whether it
is safe to send twice, and how to decode the answer's ``data``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._convert import encode_json, structure_answer, unstructure
from .errors import ProtocolError, ValidationError
from .models import (
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    MeetingInfo,
    ModifyMeeting,
    QueryByDay,
    RepeatMeeting,
    RepeatSeries,
)

__all__ = [
    "BUILDERS",
    "MEETING_PATH",
    "Request",
    "build",
    "build_batch_cancel",
    "build_batch_modify",
    "build_cancel",
    "build_create",
    "build_modify",
    "build_query_by_day",
    "build_repeat_meeting",
    "parse_create",
    "parse_nothing",
    "parse_query_by_day",
    "parse_repeat_meeting",
]

T = TypeVar("T")

MEETING_PATH = "/gateway/cloudwork/meeting/"


@attrs.frozen(repr=False)
class Request(Generic[T]):
    """What to send to one endpoint, without the token: it is added per attempt.

    ``idempotent`` says whether sending it twice has the effect of sending it once, so that a
    resend after an unclear failure is safe. ``day`` is the instant whose day holds the meeting
    a non-idempotent request creates (to look it up when the outcome is unknown).
    """

    endpoint: str
    path: str
    body: bytes
    idempotent: bool
    decode: Callable[[Any], T]
    model: Any = None
    day: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"Request(endpoint={self.endpoint!r}, idempotent={self.idempotent}, "
            f"body=<{len(self.body)} bytes>)"
        )


def _meeting_request(
    endpoint: str,
    model: Any,
    decode: Callable[[Any], T],
    *,
    idempotent: bool,
    day: datetime | None = None,
) -> Request[T]:
    return Request(
        endpoint=endpoint,
        path=MEETING_PATH + endpoint,
        body=encode_json(unstructure(model)),
        idempotent=idempotent,
        decode=decode,
        model=model,
        day=day,
    )


def parse_create(data: Any) -> str:
    """``{"meetingId": "..."}`` -> the id."""
    if type(data) is dict:
        meeting_id = data.get("meetingId")
        if type(meeting_id) is str and meeting_id:
            return meeting_id
    raise ProtocolError("answer data has no meetingId", endpoint="create")


def parse_nothing(data: Any) -> None:
    """Endpoints whose answer data is ``null``: whatever came, there is nothing to return."""
    return None


def parse_repeat_meeting(data: Any) -> RepeatSeries:
    """``{"meetingIds": [...]}`` -> ``RepeatSeries`` (parent first)."""
    if type(data) is dict:
        ids = data.get("meetingIds")
        if type(ids) is list and ids and all(type(i) is str and i for i in ids):
            return RepeatSeries(meeting_ids=ids)
    raise ProtocolError("answer data has no non-empty meetingIds list", endpoint="repeatMeeting")


def parse_query_by_day(data: Any) -> list[MeetingInfo]:
    """A list of meetings; ``null`` is read as no meeting."""
    if data is None:
        return []
    if type(data) is not list:
        raise ProtocolError("answer data is not a list of meetings", endpoint="queryByDay")
    return structure_answer(data, list[MeetingInfo], endpoint="queryByDay")


def build_create(model: CreateMeeting) -> Request[str]:
    """``create``: not idempotent (a resend could create the meeting twice)."""
    return _meeting_request("create", model, parse_create, idempotent=False, day=model.start_date)


def build_modify(model: ModifyMeeting) -> Request[None]:
    """``modify``: a full replace, so sending it twice is the same as once."""
    return _meeting_request("modify", model, parse_nothing, idempotent=True)


def build_cancel(model: CancelMeeting) -> Request[None]:
    """``cancel``."""
    return _meeting_request("cancel", model, parse_nothing, idempotent=True)


def build_repeat_meeting(model: RepeatMeeting) -> Request[RepeatSeries]:
    """``repeatMeeting``: not idempotent."""
    return _meeting_request(
        "repeatMeeting", model, parse_repeat_meeting, idempotent=False, day=model.start_date
    )


def build_batch_modify(model: BatchModify) -> Request[None]:
    """``batchModify``."""
    return _meeting_request("batchModify", model, parse_nothing, idempotent=True)


def build_batch_cancel(model: BatchCancel) -> Request[None]:
    """``batchCancel``."""
    return _meeting_request("batchCancel", model, parse_nothing, idempotent=True)


def build(model: Any) -> Request[Any]:
    """The request for any request model (dispatch on its type)."""
    builder = BUILDERS.get(type(model))
    if builder is None:
        raise ValidationError("model", f"not a request model: {type(model).__name__}")
    return builder(model)


def build_query_by_day(model: QueryByDay) -> Request[list[MeetingInfo]]:
    """``queryByDay``."""
    return _meeting_request("queryByDay", model, parse_query_by_day, idempotent=True)


BUILDERS: dict[type, Callable[[Any], Request[Any]]] = {
    CreateMeeting: build_create,
    ModifyMeeting: build_modify,
    CancelMeeting: build_cancel,
    RepeatMeeting: build_repeat_meeting,
    BatchModify: build_batch_modify,
    BatchCancel: build_batch_cancel,
    QueryByDay: build_query_by_day,
}
