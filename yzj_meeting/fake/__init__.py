"""An in-memory Yunzhijia meeting service, for tests and local runs (like moto for boto3).

``FakeService`` is the service model (no I/O), ``FakeTransport`` serves it in-process to a
``MeetingClient``, and ``yzj_meeting.fake.server`` serves it over HTTP
(``python -m yzj_meeting.fake --port 8080``).

Modules, by concern (as moto splits responses from models): ``service`` (the request
pipeline), ``wire`` (route table, envelope, the write parsers), ``fields`` (field readers),
``queries`` (detail, queryByDay/Range/User, getAttendDetail: parse, rule, render),
``bookings`` (pageRecentList and the ``/api/roomBook/third/`` endpoints), ``rooms`` (the room
catalogue), ``store`` (meetings, series, the by-day index, room orders, the domain rules),
``tokens``, ``faults``, ``persist`` (the SQLite change log behind ``persist_path``),
``codes``, ``calendar``, ``transport``, ``server``.
"""

from .rooms import DEFAULT_ROOMS, Room
from .service import (
    FAULT_NAMES,
    INTERNAL_ERROR_CODE,
    MEETING_CANCELLED_ERROR_CODE,
    METHOD_ERROR_CODE,
    NOT_CREATOR_ERROR_CODE,
    NOT_FOUND_ERROR_CODE,
    PARAM_ERROR_CODE,
    STATUS_CANCELLED,
    STATUS_DONE,
    STATUS_OPEN,
    SUCCESS_CODE,
    THROTTLED_ERROR_CODE,
    TOKEN_ERROR_CODE,
    TOKEN_REQUEST_ERROR_CODE,
    UNAVAILABLE_ERROR_CODE,
    CallRecord,
    FakeAnswer,
    FakeService,
    Faults,
    Meeting,
)
from .transport import FakeTransport

__all__ = [
    "DEFAULT_ROOMS",
    "FAULT_NAMES",
    "INTERNAL_ERROR_CODE",
    "MEETING_CANCELLED_ERROR_CODE",
    "METHOD_ERROR_CODE",
    "NOT_CREATOR_ERROR_CODE",
    "NOT_FOUND_ERROR_CODE",
    "PARAM_ERROR_CODE",
    "STATUS_CANCELLED",
    "STATUS_DONE",
    "STATUS_OPEN",
    "SUCCESS_CODE",
    "THROTTLED_ERROR_CODE",
    "TOKEN_ERROR_CODE",
    "TOKEN_REQUEST_ERROR_CODE",
    "UNAVAILABLE_ERROR_CODE",
    "CallRecord",
    "FakeAnswer",
    "FakeService",
    "FakeTransport",
    "Faults",
    "Meeting",
    "Room",
]
