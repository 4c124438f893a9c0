"""Models of the meeting endpoints of the later public docs: detail, range and user queries,
recent bookings, attendance.

Request models validate on construction (``ValidationError`` naming the field), as the seed's
models do and with their validators. Answer models are built by the tolerant reader of
``_lenient``: every field but the identity is optional, and enum fields hold the plain value
when the server sends one this SDK does not know.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

import attrs

from .errors import ValidationError
from .models import (
    MeetingStatus,
    MeetingType,
    NoticeTime,
    ReadStatus,
    Repeat,
    _coerce,
    _id_list,
    _ids,
    _instant,
    _member,
    _text,
)

__all__ = [
    "AttendDetail",
    "AttendRecord",
    "CurrentActor",
    "GetAttendDetail",
    "GetMeeting",
    "JoinStatus",
    "MeetingDetail",
    "Organizer",
    "PageRecentList",
    "PagingFields",
    "Participant",
    "QueryByRange",
    "QueryByUser",
    "UserMeeting",
]


class JoinStatus(enum.IntEnum):
    """A participant's answer in ``detail``."""

    NO_ANSWER = 0
    DECLINED = 1
    JOINING = 2
    DELEGATED = 3
    CANCELLED = 4


@attrs.frozen
class PagingFields:
    """Which attributes of a paged request model hold the page number and the page size."""

    page: str
    size: str


# --- validators shared by the paged models of this module and ``rooms`` ---


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or value < 1:
        raise ValidationError(attribute.name, f"must be an integer >= 1, got {value!r}")


def page_size_at_most(maximum: int) -> Any:
    """Validator: an integer in ``1..maximum`` (the documented maximum page size)."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        _positive(_, attribute, value)
        if value > maximum:
            raise ValidationError(
                attribute.name, f"must be at most {maximum} (the documented maximum), got {value}"
            )

    return check


def optional_instant(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: ``None`` or an aware datetime."""
    if value is not None:
        _instant(_, attribute, value)


def check_window(start: datetime, end: datetime, *, start_name: str, end_name: str) -> None:
    """``end`` must be after ``start``."""
    if end <= start:
        raise ValidationError(end_name, f"must be after {start_name} ({end} <= {start})")


def _status(value: MeetingStatus | int | None) -> MeetingStatus | None:
    return _coerce(MeetingStatus, value)  # type: ignore[no-any-return]


# --- request models ---


@attrs.frozen
class GetMeeting:
    """Body of ``meeting/detail``: one meeting by id."""

    id: str = attrs.field(default=None, validator=_text)


@attrs.frozen
class QueryByRange:
    """Body of ``meeting/queryByRange``: the meetings of the workspace between two instants."""

    start: datetime = attrs.field(default=None, validator=_instant)
    end: datetime = attrs.field(default=None, validator=_instant)

    def __attrs_post_init__(self) -> None:
        check_window(self.start, self.end, start_name="start", end_name="end")


@attrs.frozen
class PageRecentList:
    """Body of ``meeting/pageRecentList``: one page of the bookings added or changed after
    ``last_time`` (all of them when ``None``), optionally only for ``room_ids``."""

    paging: ClassVar[PagingFields] = PagingFields("page", "size")

    last_time: datetime | None = attrs.field(default=None, kw_only=True, validator=optional_instant)
    page: int = attrs.field(default=1, kw_only=True, validator=_positive)
    size: int = attrs.field(default=10, kw_only=True, validator=_positive)
    room_ids: tuple[str, ...] = attrs.field(
        default=(), kw_only=True, converter=_ids, validator=_id_list
    )


@attrs.frozen
class QueryByUser:
    """Body of ``meeting/queryByUser``: one page of a user's meetings, optionally of one
    ``status`` (``MeetingStatus``: 0 open, 1 done, 2 deleted)."""

    paging: ClassVar[PagingFields] = PagingFields("page_num", "page_size")

    open_id: str = attrs.field(default=None, validator=_text)
    status: MeetingStatus | None = attrs.field(
        default=None, kw_only=True, converter=_status, validator=_member(MeetingStatus, True)
    )
    page_num: int = attrs.field(default=1, kw_only=True, validator=_positive)
    page_size: int = attrs.field(default=20, kw_only=True, validator=_positive)


@attrs.frozen
class GetAttendDetail:
    """Body of ``meeting/getAttendDetail``: the check-in state of a meeting's attendees."""

    meeting_id: str = attrs.field(default=None, validator=_text)


# --- answer models ---


@attrs.frozen
class Organizer:
    """An organiser of a meeting, as ``detail`` lists them."""

    openid: str | None = attrs.field(default=None, metadata={"wire": ("openid", "openId")})
    id: str | None = None
    eid: str | None = None
    person_name: str | None = None
    photo_url: str | None = None


@attrs.frozen
class Participant:
    """An attendee of a meeting, as ``detail`` lists them, with their answer (``join_status``).

    ``mandatary_oid`` holds whom a delegating attendee sent (comma-separated on the wire, a
    tuple here); ``client_oid`` who delegated to this attendee.
    """

    openid: str | None = attrs.field(default=None, metadata={"wire": ("openid", "openId")})
    id: str | None = None
    eid: str | None = None
    person_name: str | None = None
    photo_url: str | None = None
    notice_times: tuple[NoticeTime | int, ...] | None = attrs.field(
        default=None, metadata={"wire": ("noticeTimes", "noticeTime")}
    )
    read_status: ReadStatus | int | None = None
    status: int | None = None
    join_status: JoinStatus | int | None = None
    join_date: datetime | None = None
    mandatary_oid: str | None = None
    client_oid: str | None = None

    @property
    def mandataries(self) -> tuple[str, ...]:
        """The delegates named by ``mandatary_oid``."""
        if not self.mandatary_oid:
            return ()
        return tuple(oid.strip() for oid in self.mandatary_oid.split(",") if oid.strip())


@attrs.frozen(hash=False)
class MeetingDetail:
    """One meeting as ``meeting/detail`` returns it: everything ``modify`` needs to resend.

    ``status`` is the work status (0 open, 1 done or cancelled, 2 deleted); a cancelled meeting
    has ``cancel_time``. ``images``, ``files`` and ``record_info`` are kept as the JSON received.
    ``top_state`` is not in the documented answer: it is read when a server sends ``topState``
    (``None`` otherwise, and then ``update_meeting`` cannot keep it).
    """

    id: str
    title: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    openid: str | None = attrs.field(default=None, metadata={"wire": ("openid", "openId")})
    eid: str | None = None
    person_name: str | None = None
    photo_url: str | None = None
    content: str | None = None
    meeting_place: str | None = None
    type: MeetingType | str | None = None
    create_date: datetime | None = None
    status: MeetingStatus | int | None = None
    submit_experience: bool | None = None
    organizers: tuple[Organizer, ...] = ()
    participants: tuple[Participant, ...] = ()
    room_id: str | None = None
    room_order_id: str | None = None
    notice_times: tuple[NoticeTime | int, ...] | None = attrs.field(
        default=None, metadata={"wire": ("noticeTimes", "noticeTime")}
    )
    repeat: Repeat | int | None = None
    repeat_end_date: datetime | None = None
    batch_id: str | None = None
    encryption: bool | None = None
    share_ids: tuple[str, ...] | None = None
    agent: str | None = None
    top_state: bool | None = None
    cancel_time: datetime | None = None
    cancel_reason: str | None = None
    images: Any = None
    files: Any = None
    record_info: Any = None

    @property
    def organizer_ids(self) -> tuple[str, ...]:
        """The organisers' oids, in server order."""
        return tuple(o.openid for o in self.organizers if o.openid)

    @property
    def actor_ids(self) -> tuple[str, ...]:
        """The attendees' oids in server order, without those whose invitation was cancelled."""
        return tuple(
            p.openid
            for p in self.participants
            if p.openid and p.join_status != JoinStatus.CANCELLED
        )


@attrs.frozen
class CurrentActor:
    """The queried user's own state in one of their meetings (``queryByUser``)."""

    open_id: str | None = attrs.field(default=None, metadata={"wire": ("openId", "openid")})
    work_status: MeetingStatus | int | None = None
    work_source: str | None = None
    done_time: datetime | None = None


@attrs.frozen
class UserMeeting:
    """One of a user's meetings, as ``meeting/queryByUser`` returns it.

    ``work_status``: 0 open, 1 done, 2 deleted; ``record``: whether minutes were submitted.
    """

    id: str
    title: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    open_id: str | None = attrs.field(default=None, metadata={"wire": ("openId", "openid")})
    person_name: str | None = None
    content: str | None = None
    create_date: datetime | None = None
    work_status: MeetingStatus | int | None = None
    done_time: datetime | None = None
    cancel_time: datetime | None = None
    record: bool | None = None
    current_actor: CurrentActor | None = None
    agent: str | None = None


@attrs.frozen
class AttendRecord:
    """One attendee's check-in, as ``getAttendDetail`` reports it: texts as the server words
    them (``attend_status`` "已签到"/"未签到", ``accept_status`` "未响应"/"不参与"/"参与"/
    "委托参与"); ``--`` (nothing) is read as ``None``."""

    user_name: str | None = None
    attend_status: str | None = None
    attend_time: str | None = None
    accept_status: str | None = None
    department: str | None = None
    department_lone_name: str | None = None
    company_name: str | None = None
    mobile: str | None = None
    work_no: str | None = None

    @property
    def checked_in(self) -> bool | None:
        """``True`` for 已签到, ``False`` for 未签到, ``None`` for anything else."""
        return {"已签到": True, "未签到": False}.get(self.attend_status or "")


@attrs.frozen(hash=False)
class AttendDetail:
    """Answer of ``getAttendDetail``: one record per attendee.

    The docs' example answers a single object; a list is read as well (one record each).
    """

    records: tuple[AttendRecord, ...] = ()
