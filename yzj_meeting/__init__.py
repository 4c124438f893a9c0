"""Asyncio SDK for the Yunzhijia (云之家) cloudwork meeting API.

Quick start::

    async with MeetingClient(credentials=Credentials(eid="...", secret="...")) as client:
        meeting_id = await client.create_meeting(CreateMeeting(...))
"""

from ._http import Timeout
from ._operations import Request
from .actors import ActorChange, diff_actors
from .auth import Credentials, TokenProvider
from .bulk import Outcome, Progress
from .client import Attempt, MeetingClient
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
from .transports import AiohttpTransport

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TOKEN_ERROR_CODES",
    "SHANGHAI",
    "AcceptStatus",
    "ActorChange",
    "AiohttpTransport",
    "ApiError",
    "Attempt",
    "AuthError",
    "BatchCancel",
    "BatchModify",
    "CancelMeeting",
    "ConnectError",
    "CreateMeeting",
    "Credentials",
    "FakeTransport",
    "MeetingClient",
    "MeetingInfo",
    "MeetingStatus",
    "MeetingType",
    "ModifyMeeting",
    "NetworkError",
    "NoticeTime",
    "Outcome",
    "OutcomeUnknownError",
    "Progress",
    "ProtocolError",
    "QueryByDay",
    "RateLimitError",
    "ReadStatus",
    "Repeat",
    "RepeatMeeting",
    "RepeatSeries",
    "Request",
    "RequestTimeout",
    "RetryPolicy",
    "ServerError",
    "Timeout",
    "TokenProvider",
    "TransportError",
    "ValidationError",
    "YzjError",
    "__version__",
    "diff_actors",
]
