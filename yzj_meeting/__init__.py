"""Asyncio SDK for the Yunzhijia (云之家) cloudwork meeting API.

Quick start::

    async with MeetingClient(credentials=Credentials(eid="...", secret="...")) as client:
        meeting_id = await client.create_meeting(CreateMeeting(...))
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._http import Timeout
from .actors import ActorChange, diff_actors
from .auth import Credentials, TokenProvider
from .bulk import Outcome, Progress
from .client import Attempt, MeetingClient
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
from .tokens import MemoryTokenStore, TokenSource, TokenStore

if TYPE_CHECKING:
    from .fake import FakeTransport
    from .transports.aiohttp import AiohttpTransport

__version__ = "0.1.0"

# Loaded on first use: ``import yzj_meeting`` pulls in neither aiohttp nor the emulator.
_LAZY = {
    "AiohttpTransport": "yzj_meeting.transports.aiohttp",
    "FakeTransport": "yzj_meeting.fake",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'yzj_meeting' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    "Limiter",
    "MeetingClient",
    "MeetingInfo",
    "MeetingStatus",
    "MeetingType",
    "MemoryTokenStore",
    "ModifyMeeting",
    "NetworkError",
    "NoticeTime",
    "Outcome",
    "OutcomeUnknownError",
    "Progress",
    "ProtocolError",
    "QueryByDay",
    "RateLimitError",
    "RateLimiter",
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
    "TokenSource",
    "TokenStore",
    "TransportError",
    "ValidationError",
    "YzjError",
    "__version__",
    "diff_actors",
]
