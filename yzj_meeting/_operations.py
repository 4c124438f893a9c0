"""Compatibility names over the endpoint table (``endpoints``): one ``build_*`` per endpoint."""

from __future__ import annotations

from .endpoints import (
    BATCH_CANCEL,
    BATCH_MODIFY,
    BUILDERS,
    CANCEL,
    CREATE,
    MEETING_PATH,
    MODIFY,
    QUERY_BY_DAY,
    REPEAT_MEETING,
    Request,
    build,
    parse_create,
    parse_nothing,
    parse_query_by_day,
    parse_repeat_meeting,
)
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


def build_create(model: CreateMeeting) -> Request[str]:
    """``create``: not idempotent (a resend could create the meeting twice)."""
    return CREATE.build(model)


def build_modify(model: ModifyMeeting) -> Request[None]:
    """``modify``: a full replace, so sending it twice is the same as once."""
    return MODIFY.build(model)


def build_cancel(model: CancelMeeting) -> Request[None]:
    """``cancel``."""
    return CANCEL.build(model)


def build_repeat_meeting(model: RepeatMeeting) -> Request[RepeatSeries]:
    """``repeatMeeting``: not idempotent."""
    return REPEAT_MEETING.build(model)


def build_batch_modify(model: BatchModify) -> Request[None]:
    """``batchModify``."""
    return BATCH_MODIFY.build(model)


def build_batch_cancel(model: BatchCancel) -> Request[None]:
    """``batchCancel``."""
    return BATCH_CANCEL.build(model)


def build_query_by_day(model: QueryByDay) -> Request[list[MeetingInfo]]:
    """``queryByDay``."""
    return QUERY_BY_DAY.build(model)
