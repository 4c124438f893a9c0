"""The wire of the nine endpoints of the later public docs: path, body builder, answer parser.

Pure functions, no I/O, no token: ``body_*`` turns a request model into the exact JSON object
sent (camelCase, epoch ms, each endpoint's paging names), ``parse_*`` turns an answer's
``data`` into models with the tolerance of ``_lenient``. ``LATER_ENDPOINTS`` lists them as rows
for the endpoint table.

Success is decided by the envelope's ``success`` alone (``_envelope.decode_envelope``): these
endpoints answer ``errorCode`` 0, 200 (``getAttendDetail``, ``"error": "正确访问"``) or
``"error": ""`` on success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._convert import to_ms
from ._lenient import Page, read_answer, read_bool, read_meetings, read_page
from .details import (
    AttendDetail,
    AttendRecord,
    GetAttendDetail,
    GetMeeting,
    MeetingDetail,
    PageRecentList,
    QueryByRange,
    QueryByUser,
    UserMeeting,
)
from .errors import ProtocolError
from .models import MeetingInfo
from .rooms import (
    BookInfo,
    Booking,
    BookingChanges,
    FreeRooms,
    GetActors,
    HasNewBookings,
    Room,
    RoomActor,
)

__all__ = [
    "LATER_ENDPOINTS",
    "MEETING_PATH",
    "ROOM_BOOK_PATH",
    "LaterEndpoint",
    "body_book_info",
    "body_free_rooms",
    "body_get_actors",
    "body_get_attend_detail",
    "body_get_meeting",
    "body_has_new_bookings",
    "body_page_recent_list",
    "body_query_by_range",
    "body_query_by_user",
    "parse_book_info",
    "parse_free_rooms",
    "parse_get_actors",
    "parse_get_attend_detail",
    "parse_get_meeting",
    "parse_has_new_bookings",
    "parse_meeting_list",
    "parse_page_recent_list",
    "parse_query_by_user",
]

MEETING_PATH = "/gateway/cloudwork/meeting/"
ROOM_BOOK_PATH = "/api/roomBook/third/"

# queryByDay/queryByRange items: real deployments send ``openId`` for ``openid``.
# --- bodies ---


def body_get_meeting(model: GetMeeting) -> dict[str, Any]:
    """``{"id"}``."""
    return {"id": model.id}


def body_query_by_range(model: QueryByRange) -> dict[str, Any]:
    """``{"start", "end"}`` in epoch ms."""
    return {"start": to_ms(model.start), "end": to_ms(model.end)}


def body_page_recent_list(model: PageRecentList) -> dict[str, Any]:
    """``{"lastTime"?, "page", "size", "roomIds"?}``: ``lastTime`` and ``roomIds`` only when set."""
    body: dict[str, Any] = {}
    if model.last_time is not None:
        body["lastTime"] = to_ms(model.last_time)
    body["page"] = model.page
    body["size"] = model.size
    if model.room_ids:
        body["roomIds"] = list(model.room_ids)
    return body


def body_query_by_user(model: QueryByUser) -> dict[str, Any]:
    """``{"pageNum", "pageSize", "openId", "status"}``; ``status`` is ``null`` for any status,
    as in the docs' example."""
    return {
        "pageNum": model.page_num,
        "pageSize": model.page_size,
        "openId": model.open_id,
        "status": None if model.status is None else int(model.status),
    }


def body_get_attend_detail(model: GetAttendDetail) -> dict[str, Any]:
    """``{"meetingId"}``."""
    return {"meetingId": model.meeting_id}


def body_has_new_bookings(model: HasNewBookings) -> dict[str, Any]:
    """``{"eid", "lastTime"?}``. The docs' example quotes ``lastTime``; it is sent as a number,
    which the gateway reads the same (as the seed's ``"repeat": "1"``)."""
    body: dict[str, Any] = {"eid": model.eid}
    if model.last_time is not None:
        body["lastTime"] = to_ms(model.last_time)
    return body


def body_book_info(model: BookInfo) -> dict[str, Any]:
    """``{"eid", "lastTime"?, "pageIndex", "pageSize"}``; paging always sent."""
    body = body_has_new_bookings(HasNewBookings(model.eid, model.last_time))
    body["pageIndex"] = model.page_index
    body["pageSize"] = model.page_size
    return body


def body_free_rooms(model: FreeRooms) -> dict[str, Any]:
    """``{"openId", "startTime", "endTime", "pageIndex", "pageSize"}``."""
    return {
        "openId": model.open_id,
        "startTime": to_ms(model.start),
        "endTime": to_ms(model.end),
        "pageIndex": model.page_index,
        "pageSize": model.page_size,
    }


def body_get_actors(model: GetActors) -> dict[str, Any]:
    """``{"orderId"}``."""
    return {"orderId": model.order_id}


# --- parsers ---


def parse_get_meeting(data: Any) -> MeetingDetail:
    """One ``MeetingDetail``; no ``id`` is a ``ProtocolError``."""
    return read_answer(MeetingDetail, data, endpoint="detail")


def parse_meeting_list(data: Any, *, endpoint: str = "queryByRange") -> Page[MeetingInfo]:
    """``queryByRange`` (and ``queryByDay``) items; one without id, title or times is dropped."""
    return read_meetings(data, endpoint=endpoint)


def parse_page_recent_list(data: Any) -> Page[Booking]:
    """One page of ``Booking``."""
    return _bookings(data, "pageRecentList")


def parse_query_by_user(data: Any) -> Page[UserMeeting]:
    """One page of ``UserMeeting``."""
    return read_page(UserMeeting, data, endpoint="queryByUser")


def parse_get_attend_detail(data: Any) -> AttendDetail:
    """An object (the docs' example) or a list of them; ``"--"`` (nothing) becomes ``None``."""
    records = read_page(
        AttendRecord, [data] if type(data) is dict else data, endpoint="getAttendDetail"
    )
    return AttendDetail(records=tuple(_no_dashes(r) for r in records))


def parse_has_new_bookings(data: Any) -> bool:
    """``{"hasNew": bool}`` (``"true"``, ``1`` accepted); anything else is a ``ProtocolError``."""
    value = data.get("hasNew") if type(data) is dict else None
    flag = read_bool(value) if value is not None else None
    if flag is None:
        raise ProtocolError("answer data has no boolean hasNew", endpoint="hasNew")
    return flag


def parse_book_info(data: Any) -> BookingChanges:
    """``{"add": [...], "delete": [...]}`` (either may be missing or ``null``)."""
    if data is None:
        return BookingChanges()
    if type(data) is not dict:
        raise ProtocolError(
            f"answer data is not an object (got {type(data).__name__})", endpoint="bookInfo"
        )
    add = _bookings(data.get("add"), "bookInfo.add")
    delete = _bookings(data.get("delete"), "bookInfo.delete")
    return BookingChanges(
        add=tuple(add), delete=tuple(delete), received=add.received + delete.received
    )


def parse_free_rooms(data: Any) -> Page[Room]:
    """One page of ``Room``."""
    return read_page(Room, data, endpoint="freeRooms")


def parse_get_actors(data: Any) -> Page[RoomActor]:
    """The booking's attendees."""
    return read_page(RoomActor, data, endpoint="getActors")


def _bookings(data: Any, endpoint: str) -> Page[Booking]:
    page = read_page(Booking, data, endpoint=endpoint)
    kept = [b for b in page if b.id is not None or b.room_order_id is not None]
    return Page(kept, received=page.received)


def _no_dashes(record: AttendRecord) -> AttendRecord:
    changes = {
        f.name: None for f in attrs.fields(AttendRecord) if getattr(record, f.name) in ("--", "")
    }
    return attrs.evolve(record, **changes) if changes else record


# --- rows for the endpoint table ---


@attrs.frozen
class LaterEndpoint:
    """One endpoint: ``name`` (as in error messages), full ``path``, request ``model``, pure
    ``body`` builder and ``parse``r, whether a resend is harmless, the client method's name."""

    name: str
    path: str
    model: type
    body: Callable[[Any], dict[str, Any]]
    parse: Callable[[Any], Any]
    idempotent: bool
    method: str


def _reading(
    name: str, prefix: str, model: type, body: Any, parse: Any, method: str
) -> LaterEndpoint:
    # Every later endpoint only reads: sending it twice is the same as once.
    return LaterEndpoint(name, prefix + name, model, body, parse, True, method)


LATER_ENDPOINTS: tuple[LaterEndpoint, ...] = (
    _reading(
        "detail", MEETING_PATH, GetMeeting, body_get_meeting, parse_get_meeting, "get_meeting"
    ),
    _reading(
        "queryByRange",
        MEETING_PATH,
        QueryByRange,
        body_query_by_range,
        parse_meeting_list,
        "query_by_range",
    ),
    _reading(
        "pageRecentList",
        MEETING_PATH,
        PageRecentList,
        body_page_recent_list,
        parse_page_recent_list,
        "page_recent_list",
    ),
    _reading(
        "queryByUser",
        MEETING_PATH,
        QueryByUser,
        body_query_by_user,
        parse_query_by_user,
        "query_by_user",
    ),
    _reading(
        "getAttendDetail",
        MEETING_PATH,
        GetAttendDetail,
        body_get_attend_detail,
        parse_get_attend_detail,
        "get_attend_detail",
    ),
    _reading(
        "hasNew",
        ROOM_BOOK_PATH,
        HasNewBookings,
        body_has_new_bookings,
        parse_has_new_bookings,
        "has_new_bookings",
    ),
    _reading("bookInfo", ROOM_BOOK_PATH, BookInfo, body_book_info, parse_book_info, "book_info"),
    _reading(
        "freeRooms", ROOM_BOOK_PATH, FreeRooms, body_free_rooms, parse_free_rooms, "free_rooms"
    ),
    _reading(
        "getActors", ROOM_BOOK_PATH, GetActors, body_get_actors, parse_get_actors, "get_actors"
    ),
)
