"""Asyncio SDK for the Yunzhijia (云之家) cloudwork meeting API.

Quick start::

    async with MeetingClient(credentials=Credentials(eid="...", secret="...")) as client:
        meeting_id = await client.create_meeting(CreateMeeting(...))
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._http import Timeout
    from .actors import ActorChange, diff_actors
    from .auth import Credentials, TokenProvider
    from .bulk import Outcome, Progress
    from .client import Attempt, MeetingClient
    from .details import (
        AttendDetail,
        AttendRecord,
        CurrentActor,
        GetAttendDetail,
        GetMeeting,
        JoinStatus,
        MeetingDetail,
        Organizer,
        PageRecentList,
        Participant,
        QueryByRange,
        QueryByUser,
        UserMeeting,
    )
    from .endpoints import Request
    from .errors import (
        DEFAULT_TOKEN_ERROR_CODES,
        ApiError,
        AuthError,
        ConnectError,
        NetworkError,
        OutcomeUnknownError,
        ProtocolError,
        RateLimitError,
        RequestTimeout,
        ServerError,
        TransportError,
        ValidationError,
        YzjError,
    )
    from .fake import FakeTransport
    from .limits import Limiter, RateLimiter
    from .models import (
        SHANGHAI,
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
        Repeat,
        RepeatMeeting,
        RepeatSeries,
    )
    from .retry import RetryPolicy
    from .rooms import (
        ApproveStatus,
        BookInfo,
        Booking,
        BookingChanges,
        FreeRooms,
        GetActors,
        HasNewBookings,
        Room,
        RoomActor,
    )
    from .tokens import MemoryTokenStore, TokenSource, TokenStore
    from .transports.aiohttp import AiohttpTransport

__version__ = "0.1.0"

# Every public name is loaded on first use (PEP 562): ``import yzj_meeting`` alone, or a
# submodule such as the CLI's, costs nothing; ``from yzj_meeting import MeetingClient`` loads
# the SDK core (never aiohttp, which waits for the first request, nor the emulator).
_LAZY = {
    "Timeout": "yzj_meeting._http",
    "ActorChange": "yzj_meeting.actors",
    "diff_actors": "yzj_meeting.actors",
    "Credentials": "yzj_meeting.auth",
    "TokenProvider": "yzj_meeting.auth",
    "Outcome": "yzj_meeting.bulk",
    "Progress": "yzj_meeting.bulk",
    "Attempt": "yzj_meeting.client",
    "MeetingClient": "yzj_meeting.client",
    "AttendDetail": "yzj_meeting.details",
    "AttendRecord": "yzj_meeting.details",
    "CurrentActor": "yzj_meeting.details",
    "GetAttendDetail": "yzj_meeting.details",
    "GetMeeting": "yzj_meeting.details",
    "JoinStatus": "yzj_meeting.details",
    "MeetingDetail": "yzj_meeting.details",
    "Organizer": "yzj_meeting.details",
    "PageRecentList": "yzj_meeting.details",
    "Participant": "yzj_meeting.details",
    "QueryByRange": "yzj_meeting.details",
    "QueryByUser": "yzj_meeting.details",
    "UserMeeting": "yzj_meeting.details",
    "Request": "yzj_meeting.endpoints",
    "DEFAULT_TOKEN_ERROR_CODES": "yzj_meeting.errors",
    "ApiError": "yzj_meeting.errors",
    "AuthError": "yzj_meeting.errors",
    "ConnectError": "yzj_meeting.errors",
    "NetworkError": "yzj_meeting.errors",
    "OutcomeUnknownError": "yzj_meeting.errors",
    "ProtocolError": "yzj_meeting.errors",
    "RateLimitError": "yzj_meeting.errors",
    "RequestTimeout": "yzj_meeting.errors",
    "ServerError": "yzj_meeting.errors",
    "TransportError": "yzj_meeting.errors",
    "ValidationError": "yzj_meeting.errors",
    "YzjError": "yzj_meeting.errors",
    "Limiter": "yzj_meeting.limits",
    "RateLimiter": "yzj_meeting.limits",
    "SHANGHAI": "yzj_meeting.models",
    "AcceptStatus": "yzj_meeting.models",
    "BatchCancel": "yzj_meeting.models",
    "BatchModify": "yzj_meeting.models",
    "CancelMeeting": "yzj_meeting.models",
    "CreateMeeting": "yzj_meeting.models",
    "MeetingInfo": "yzj_meeting.models",
    "MeetingStatus": "yzj_meeting.models",
    "MeetingType": "yzj_meeting.models",
    "ModifyMeeting": "yzj_meeting.models",
    "NoticeTime": "yzj_meeting.models",
    "QueryByDay": "yzj_meeting.models",
    "ReadStatus": "yzj_meeting.models",
    "Repeat": "yzj_meeting.models",
    "RepeatMeeting": "yzj_meeting.models",
    "RepeatSeries": "yzj_meeting.models",
    "RetryPolicy": "yzj_meeting.retry",
    "ApproveStatus": "yzj_meeting.rooms",
    "BookInfo": "yzj_meeting.rooms",
    "Booking": "yzj_meeting.rooms",
    "BookingChanges": "yzj_meeting.rooms",
    "FreeRooms": "yzj_meeting.rooms",
    "GetActors": "yzj_meeting.rooms",
    "HasNewBookings": "yzj_meeting.rooms",
    "Room": "yzj_meeting.rooms",
    "RoomActor": "yzj_meeting.rooms",
    "MemoryTokenStore": "yzj_meeting.tokens",
    "TokenSource": "yzj_meeting.tokens",
    "TokenStore": "yzj_meeting.tokens",
    "FakeTransport": "yzj_meeting.fake",
    "AiohttpTransport": "yzj_meeting.transports.aiohttp",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'yzj_meeting' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_TOKEN_ERROR_CODES",
    "SHANGHAI",
    "AcceptStatus",
    "ActorChange",
    "AiohttpTransport",
    "ApiError",
    "ApproveStatus",
    "Attempt",
    "AttendDetail",
    "AttendRecord",
    "AuthError",
    "BatchCancel",
    "BatchModify",
    "BookInfo",
    "Booking",
    "BookingChanges",
    "CancelMeeting",
    "ConnectError",
    "CreateMeeting",
    "Credentials",
    "CurrentActor",
    "FakeTransport",
    "FreeRooms",
    "GetActors",
    "GetAttendDetail",
    "GetMeeting",
    "HasNewBookings",
    "JoinStatus",
    "Limiter",
    "MeetingClient",
    "MeetingDetail",
    "MeetingInfo",
    "MeetingStatus",
    "MeetingType",
    "MemoryTokenStore",
    "ModifyMeeting",
    "NetworkError",
    "NoticeTime",
    "Organizer",
    "Outcome",
    "OutcomeUnknownError",
    "PageRecentList",
    "Participant",
    "Progress",
    "ProtocolError",
    "QueryByDay",
    "QueryByRange",
    "QueryByUser",
    "RateLimitError",
    "RateLimiter",
    "ReadStatus",
    "Repeat",
    "RepeatMeeting",
    "RepeatSeries",
    "Request",
    "RequestTimeout",
    "RetryPolicy",
    "Room",
    "RoomActor",
    "ServerError",
    "Timeout",
    "TokenProvider",
    "TokenSource",
    "TokenStore",
    "TransportError",
    "UserMeeting",
    "ValidationError",
    "YzjError",
    "__version__",
    "diff_actors",
]
