"""The endpoint table: one frozen row per endpoint, and the pure builders and parsers.

Nothing here performs I/O or knows the token. A row says where a request model goes, whether
sending it twice is safe, how to decode the answer's ``data`` and which client method is its
typed face; ``build``, ``BUILDERS``, the client's ``call`` and ``run_many``'s dispatch all read
the table. Adding an endpoint is one row, its model and its parser (and the emulator's rule).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._convert import encode_json, unstructure
from ._lenient import read_meetings
from .errors import ProtocolError, ValidationError
from .later_endpoints import LATER_ENDPOINTS
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
    "BY_MODEL",
    "ENDPOINTS",
    "LATER",
    "MEETING_PATH",
    "Endpoint",
    "Request",
    "build",
    "endpoint_of",
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


@attrs.frozen
class Endpoint(Generic[T]):
    """One endpoint: its name on the wire, request model, answer parser and client method.

    ``day`` is given for the non-idempotent endpoints (they create meetings): the instant whose
    day holds what the request creates, to look it up after an unclear failure.
    """

    name: str
    model: type
    parse: Callable[[Any], T]
    method: str
    idempotent: bool = True
    day: Callable[[Any], datetime] | None = None
    path: str = attrs.field(
        default=attrs.Factory(lambda self: MEETING_PATH + self.name, takes_self=True)
    )
    body: Callable[[Any], Any] = unstructure
    """The JSON object sent for a model (default: the converter's camelCase unstructure)."""

    def build(self, model: Any) -> Request[T]:
        """The request carrying ``model`` (pure: no I/O)."""
        return Request(
            endpoint=self.name,
            path=self.path,
            body=encode_json(self.body(model)),
            idempotent=self.idempotent,
            decode=self.parse,
            model=model,
            day=self.day(model) if self.day is not None else None,
        )


# --- answer parsers ---


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
    """A list of meetings (``null`` is none), read as ``read_meetings`` reads them: one odd
    field never fails a meeting, one odd meeting never fails the day."""
    return read_meetings(data, endpoint="queryByDay")


def _start(model: Any) -> datetime:
    return model.start_date  # type: ignore[no-any-return]


# --- the table ---

CREATE: Endpoint[str] = Endpoint(
    "create", CreateMeeting, parse_create, "create_meeting", idempotent=False, day=_start
)
MODIFY: Endpoint[None] = Endpoint("modify", ModifyMeeting, parse_nothing, "modify_meeting")
CANCEL: Endpoint[None] = Endpoint("cancel", CancelMeeting, parse_nothing, "cancel_meeting")
REPEAT_MEETING: Endpoint[RepeatSeries] = Endpoint(
    "repeatMeeting",
    RepeatMeeting,
    parse_repeat_meeting,
    "repeat_meeting",
    idempotent=False,
    day=_start,
)
BATCH_MODIFY: Endpoint[None] = Endpoint("batchModify", BatchModify, parse_nothing, "batch_modify")
BATCH_CANCEL: Endpoint[None] = Endpoint("batchCancel", BatchCancel, parse_nothing, "batch_cancel")
QUERY_BY_DAY: Endpoint[list[MeetingInfo]] = Endpoint(
    "queryByDay", QueryByDay, parse_query_by_day, "query_by_day"
)

LATER: tuple[Endpoint[Any], ...] = tuple(
    Endpoint(
        row.name,
        row.model,
        row.parse,
        row.method,
        idempotent=row.idempotent,
        path=row.path,
        body=row.body,
    )
    for row in LATER_ENDPOINTS
)
"""The nine endpoints of the later public docs (``later_endpoints``: ``body_*`` builders,
``/api/roomBook/third/`` paths)."""

ENDPOINTS: tuple[Endpoint[Any], ...] = (
    CREATE,
    MODIFY,
    CANCEL,
    REPEAT_MEETING,
    BATCH_MODIFY,
    BATCH_CANCEL,
    QUERY_BY_DAY,
    *LATER,
)
"""Every endpoint, one row each."""

BY_MODEL: Mapping[type, Endpoint[Any]] = {row.model: row for row in ENDPOINTS}
BUILDERS: Mapping[type, Callable[[Any], Request[Any]]] = {row.model: row.build for row in ENDPOINTS}


def endpoint_of(model: Any) -> Endpoint[Any]:
    """The row of ``model``'s endpoint; ``ValidationError`` when it is no request model."""
    row = BY_MODEL.get(type(model))
    if row is None:
        raise ValidationError("model", f"not a request model: {type(model).__name__}")
    return row


def build(model: Any) -> Request[Any]:
    """The request for any request model (dispatch on its type)."""
    return endpoint_of(model).build(model)
