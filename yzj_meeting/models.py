"""Request and answer models, enums and the validation done before anything is sent.

Models are frozen attrs classes with keyword-only arguments named as the snake_case of the wire
fields. Construction validates and raises ``ValidationError`` naming the field; the wire format
itself (camelCase, epoch ms, 0/1) lives in ``_convert``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, TypeVar

import attrs

from ._fastcheck import check, fast, field
from .actors import diff_actors
from .errors import ValidationError

__all__ = [
    "SHANGHAI",
    "AcceptStatus",
    "BatchCancel",
    "BatchModify",
    "CancelMeeting",
    "CreateMeeting",
    "MeetingInfo",
    "MeetingStatus",
    "MeetingType",
    "ModifyMeeting",
    "NoticeTime",
    "QueryByDay",
    "ReadStatus",
    "Repeat",
    "RepeatMeeting",
    "RepeatSeries",
]

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
"""The service's calendar zone. China has kept UTC+8 without daylight saving since 1991."""


class NoticeTime(enum.IntEnum):
    """Reminder before the start, in minutes; ``NONE`` is no reminder."""

    NONE = -1
    AT_START = 0
    MINUTES_15 = 15
    HOUR_1 = 60


class Repeat(enum.IntEnum):
    """Repetition rule of a series."""

    NONE = 0
    WORKDAYS = 1
    DAILY = 2
    WEEKLY = 3
    BIWEEKLY = 4
    MONTHLY = 5


class MeetingType(enum.StrEnum):
    """Kind of meeting; an ordinary meeting is ``type=None``."""

    SIGN = "sign"
    VOICE = "voice"


class MeetingStatus(enum.IntEnum):
    """State of a meeting as ``queryByDay`` reports it."""

    OPEN = 0
    DONE = 1
    DELETED = 2


class ReadStatus(enum.IntEnum):
    """Whether the meeting was read."""

    UNREAD = 0
    READ = 1


class AcceptStatus(enum.IntEnum):
    """Attendee's answer to the invitation."""

    NO_ANSWER = 0
    DECLINED = 1
    ACCEPTED = 2


# --- converters: normalise shapes, never raise (the validators report what is still wrong) ---

_E = TypeVar("_E", bound=enum.Enum)


def _coerce(cls: type[_E], value: Any) -> Any:
    if value is None or isinstance(value, cls) or type(value) is bool:
        return value
    try:
        return cls(value)
    except (ValueError, TypeError):
        return value


def _notice_time(value: NoticeTime | int | None) -> NoticeTime | None:
    return _coerce(NoticeTime, value)  # type: ignore[no-any-return]


def _repeat(value: Repeat | int) -> Repeat:
    return _coerce(Repeat, value)  # type: ignore[no-any-return]


def _meeting_type(value: MeetingType | str | None) -> MeetingType | None:
    return _coerce(MeetingType, value)  # type: ignore[no-any-return]


def _flag(value: bool | int | None) -> bool | None:
    if type(value) is int and value in (0, 1):
        return bool(value)
    return value  # type: ignore[return-value]


def _ids(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None or isinstance(value, str | bytes | tuple):
        return value  # type: ignore[return-value]
    try:
        return tuple(value)
    except Exception:  # not iterable: the validator names the field
        return value  # type: ignore[return-value]


# Registered by call, not as decorators: mypy's attrs plugin needs plain functions as converters.
fast("v is None or type(v) is NoticeTime", NoticeTime=NoticeTime)(_notice_time)
fast("type(v) is Repeat", Repeat=Repeat)(_repeat)
fast("v is None or type(v) is MeetingType", MeetingType=MeetingType)(_meeting_type)
fast("v is None or v is True or v is False")(_flag)
fast("v is None or type(v) is tuple")(_ids)


# --- validators: each raises ValidationError naming the field ---


@fast("type(v) is str and v.strip()")
def _text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, f"must be a non-empty string, got {value!r}")


@fast("v is None or type(v) is str")
def _optional_text(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(attribute.name, f"must be a string, got {type(value).__name__}")


@fast("type(v) is datetime and type(v.tzinfo) is timezone", datetime=datetime, timezone=timezone)
def _instant(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, datetime):
        raise ValidationError(
            attribute.name, f"must be a timezone-aware datetime, got {type(value).__name__}"
        )
    if value.utcoffset() is None:
        raise ValidationError(
            attribute.name,
            "must be timezone-aware (a naive datetime is ambiguous: the service uses "
            "Asia/Shanghai days); attach a tzinfo, e.g. yzj_meeting.SHANGHAI",
        )


def _member(cls: type[enum.Enum], optional: bool) -> Any:
    allowed = ", ".join(repr(m.value) for m in cls)

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if (value is None and optional) or isinstance(value, cls):
            return
        raise ValidationError(attribute.name, f"must be one of {allowed}, got {value!r}")

    test = f"type(v) is {cls.__name__}"
    return fast(f"v is None or {test}" if optional else test, **{cls.__name__: cls})(check)


@fast("v is None or v is True or v is False")
def _optional_bool(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(attribute.name, f"must be a bool, got {value!r}")


@fast("v is None")
def _id_list(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, tuple):
        raise ValidationError(
            attribute.name, f"must be a list of attendee ids, got {type(value).__name__}"
        )
    for item in value:  # the common case first: plain non-empty strings
        if type(item) is not str or not item.strip():
            break
    else:
        return
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(
                f"{attribute.name}[{i}]", f"must be a non-empty attendee id, got {item!r}"
            )


# Required fields default to ``None`` so that leaving one out is a ``ValidationError`` naming
# it (the validator refuses ``None``), not attrs' ``TypeError`` about a missing argument.


# The rules of these fields run in ``check`` (``_fastcheck``), called first thing by every
# request model's ``__attrs_post_init__``.


def _text_field() -> Any:
    return field(_text)


def _optional_text_field() -> Any:
    return field(_optional_text)


def _instant_field() -> Any:
    return field(_instant)


def _ids_field() -> Any:
    return field(_id_list, _ids)


def _notice_field() -> Any:
    return field(_member(NoticeTime, True), _notice_time)


def _notice_times(value: Iterable[int] | None) -> tuple[int, ...] | None:
    if value is None or isinstance(value, str | bytes):
        return value  # type: ignore[return-value]  # the validator names the field
    try:
        return tuple(value)
    except TypeError:
        return value  # type: ignore[return-value]


fast("v is None or type(v) is tuple")(_notice_times)


@fast("v is None")
def _check_notice_times(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, tuple) or not all(
        type(v) is int or isinstance(v, NoticeTime) for v in value
    ):
        raise ValidationError(attribute.name, "must be a list of reminder minutes (ints)")


def _check_notice(model: Any) -> None:
    if model.notice_time is not None and model.notice_times is not None:
        raise ValidationError("notice_times", "give notice_time or notice_times, not both")


WIRE_NAME = "yzj_wire_name"
"""Field metadata key: the wire name, when it is not the camelCase of the attribute name."""
WIRE_FLAG = "yzj_wire_flag"
"""Field metadata key: a ``bool`` sent as ``0``/``1`` on the wire."""


def _top_state_field() -> Any:
    return field(_optional_bool, _flag, metadata={WIRE_FLAG: True})


def _bool_field() -> Any:
    return field(_optional_bool)


def _notice_times_field() -> Any:
    return field(_check_notice_times, _notice_times)


def _repeat_field() -> Any:
    return field(_member(Repeat, False), _repeat)


def _check_times(start: datetime, end: datetime, repeat_end: datetime | None = None) -> None:
    if end <= start:
        raise ValidationError("end_date", f"must be after start_date ({end} <= {start})")
    if repeat_end is not None and repeat_end < start:
        raise ValidationError(
            "repeat_end_date", f"must not be before start_date ({repeat_end} < {start})"
        )


# --- request models ---


@attrs.frozen
class CreateMeeting:
    """Body of ``create``: one meeting."""

    openid: str = _text_field()
    title: str = _text_field()
    start_date: datetime = _instant_field()
    end_date: datetime = _instant_field()
    content: str | None = _optional_text_field()
    meeting_place: str | None = _optional_text_field()
    room_id: str | None = _optional_text_field()
    notice_time: NoticeTime | None = _notice_field()
    top_state: bool | None = _top_state_field()
    actors: tuple[str, ...] | None = _ids_field()
    type: MeetingType | None = field(_member(MeetingType, True), _meeting_type)
    submit_experience: bool | None = _bool_field()
    notice_times: tuple[int, ...] | None = _notice_times_field()
    meet_organizers: tuple[str, ...] | None = _ids_field()
    encryption: bool | None = _bool_field()
    share_ids: tuple[str, ...] | None = _ids_field()
    agent: str | None = _optional_text_field()

    def __attrs_post_init__(self) -> None:
        check(self)
        _check_times(self.start_date, self.end_date)
        _check_notice(self)


@attrs.frozen
class ModifyMeeting:
    """Body of ``modify``. A full replace: every field left ``None`` is cleared on the server.

    Build it with ``ModifyMeeting.from_attendees(old, new, ...)`` to have ``actors``,
    ``add_actors`` and ``del_actors`` computed by ``diff_actors``.
    """

    id: str = _text_field()
    openid: str = _text_field()
    title: str = _text_field()
    start_date: datetime = _instant_field()
    end_date: datetime = _instant_field()
    content: str | None = _optional_text_field()
    meeting_place: str | None = _optional_text_field()
    room_id: str | None = _optional_text_field()
    notice_time: NoticeTime | None = _notice_field()
    top_state: bool | None = _top_state_field()
    actors: tuple[str, ...] | None = _ids_field()
    add_actors: tuple[str, ...] | None = _ids_field()
    del_actors: tuple[str, ...] | None = _ids_field()
    submit_experience: bool | None = _bool_field()
    notice_times: tuple[int, ...] | None = _notice_times_field()
    meet_organizers: tuple[str, ...] | None = _ids_field()
    encryption: bool | None = _bool_field()
    share_ids: tuple[str, ...] | None = _ids_field()
    agent: str | None = _optional_text_field()

    def __attrs_post_init__(self) -> None:
        check(self)
        _check_times(self.start_date, self.end_date)
        _check_notice(self)

    @classmethod
    def from_attendees(
        cls, old_actors: Iterable[str], new_actors: Iterable[str], **fields: Any
    ) -> ModifyMeeting:
        """A modify whose attendee fields come from ``diff_actors(old_actors, new_actors)``."""
        return cls(**fields, **_attendee_fields(old_actors, new_actors))


@attrs.frozen
class CancelMeeting:
    """Body of ``cancel``. Only the creator (``openid``) may cancel."""

    id: str = _text_field()
    openid: str = _text_field()

    def __attrs_post_init__(self) -> None:
        check(self)


@attrs.frozen
class RepeatMeeting:
    """Body of ``repeatMeeting``: a series; its first occurrence is the parent meeting."""

    openid: str = _text_field()
    title: str = _text_field()
    start_date: datetime = _instant_field()
    end_date: datetime = _instant_field()
    repeat: Repeat = _repeat_field()
    repeat_end_date: datetime = _instant_field()
    content: str | None = _optional_text_field()
    notice_time: NoticeTime | None = _notice_field()
    top_state: bool | None = _top_state_field()
    actors: tuple[str, ...] | None = _ids_field()
    submit_experience: bool | None = _bool_field()
    notice_times: tuple[int, ...] | None = _notice_times_field()
    meet_organizers: tuple[str, ...] | None = _ids_field()
    encryption: bool | None = _bool_field()
    share_ids: tuple[str, ...] | None = _ids_field()

    def __attrs_post_init__(self) -> None:
        check(self)
        _check_times(self.start_date, self.end_date, self.repeat_end_date)
        _check_notice(self)


@attrs.frozen
class BatchModify:
    """Body of ``batchModify``: changes the occurrence ``id`` and every later one of its series.

    ``batch_id`` is the series' parent id; leave it ``None`` when ``id`` is the parent.
    """

    id: str = _text_field()
    openid: str = _text_field()
    title: str = _text_field()
    start_date: datetime = _instant_field()
    end_date: datetime = _instant_field()
    repeat: Repeat = _repeat_field()
    repeat_end_date: datetime = _instant_field()
    content: str | None = _optional_text_field()
    notice_time: NoticeTime | None = _notice_field()
    top_state: bool | None = _top_state_field()
    actors: tuple[str, ...] | None = _ids_field()
    add_actors: tuple[str, ...] | None = _ids_field()
    del_actors: tuple[str, ...] | None = _ids_field()
    submit_experience: bool | None = _bool_field()
    batch_id: str | None = _optional_text_field()
    notice_times: tuple[int, ...] | None = _notice_times_field()
    meet_organizers: tuple[str, ...] | None = _ids_field()
    encryption: bool | None = _bool_field()
    share_ids: tuple[str, ...] | None = _ids_field()

    def __attrs_post_init__(self) -> None:
        check(self)
        _check_times(self.start_date, self.end_date, self.repeat_end_date)
        _check_notice(self)
        if self.batch_id is not None and not self.batch_id.strip():
            raise ValidationError("batch_id", "must be a non-empty string or None")

    @classmethod
    def from_attendees(
        cls, old_actors: Iterable[str], new_actors: Iterable[str], **fields: Any
    ) -> BatchModify:
        """A batch modify whose attendee fields come from ``diff_actors(old, new)``."""
        return cls(**fields, **_attendee_fields(old_actors, new_actors))


@attrs.frozen
class BatchCancel:
    """Body of ``batchCancel``: cancels occurrence ``id`` and every later one (parent: all)."""

    id: str = _text_field()
    openid: str = _text_field()
    batch_id: str | None = _optional_text_field()

    def __attrs_post_init__(self) -> None:
        check(self)
        if self.batch_id is not None and not self.batch_id.strip():
            raise ValidationError("batch_id", "must be a non-empty string or None")


def _check_day(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, datetime):
        _instant(_, attribute, value)
    elif not isinstance(value, date):
        raise ValidationError(attribute.name, f"must be a date or an aware datetime, got {value!r}")


def _check_zone(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, tzinfo):
        raise ValidationError(attribute.name, f"must be a tzinfo, got {value!r}")


@attrs.frozen
class QueryByDay:
    """Body of ``queryByDay``: the meetings starting on one day.

    ``day`` is an aware ``datetime`` (any instant inside the day) or a ``date``, which means
    that day in ``tz`` (Asia/Shanghai unless given); a date is sent as its noon, safely inside
    the day whichever zone the server counts in.
    """

    day: datetime | date = attrs.field(validator=_check_day)
    tz: tzinfo | None = attrs.field(default=None, kw_only=True, validator=_check_zone)

    @property
    def instant(self) -> datetime:
        """The instant sent on the wire."""
        if isinstance(self.day, datetime):
            return self.day
        return datetime.combine(self.day, time(12), self.tz or SHANGHAI)


def _attendee_fields(old: Iterable[str], new: Iterable[str]) -> dict[str, Any]:
    if isinstance(old, str | bytes) or isinstance(new, str | bytes):
        # A string is iterable: it would silently become one attendee per character.
        raise ValidationError("actors", "old and new attendees must be lists of ids, not strings")
    try:
        change = diff_actors(old, new)
    except TypeError as exc:
        raise ValidationError(
            "actors", f"old and new attendees must be lists of ids: {exc}"
        ) from None
    return {
        "actors": change.actors,
        "add_actors": change.add_actors,
        "del_actors": change.del_actors,
    }


# --- answer models: built by the converter, not validated ---


@attrs.frozen
class MeetingInfo:
    """One meeting as ``queryByDay`` returns it.

    Enum fields hold the enum member, or the plain value when the server sends one this SDK
    does not know (newer servers add reminder times), so one odd meeting never fails a day.
    """

    id: str
    title: str
    start_date: datetime
    end_date: datetime
    openid: str | None = None
    type: MeetingType | str | None = None
    content: str | None = None
    meeting_place: str | None = None
    meeting_status: MeetingStatus | int | None = None
    read_status: ReadStatus | int | None = None
    accept_status: AcceptStatus | int | None = None
    person_name: str | None = None
    done_time: datetime | None = None
    notice_time: NoticeTime | int | None = None
    create_date: datetime | None = None
    room_id: str | None = None
    room_order_id: str | None = None
    cancel_date: datetime | None = None
    cancel_reason: str | None = None
    notice_times: tuple[int, ...] | None = None
    """Newer servers' reminder list in minutes (``noticeTimes``)."""


@attrs.frozen(hash=False)
class RepeatSeries:
    """Answer of ``repeatMeeting``: every occurrence's id, in server order; the parent first."""

    meeting_ids: list[str]

    @property
    def parent_id(self) -> str:
        """The parent meeting: the first occurrence, and the series' ``batch_id``."""
        return self.meeting_ids[0]
