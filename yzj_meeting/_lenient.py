"""Tolerant decoding of answer data into attrs answer models, one small reader per field type.

Used by the endpoints of the later public docs, whose answers mix shapes: timestamps as numbers
or numeric strings, booleans as ``true``/``"true"``/``0``/``1``, ``0`` for "no time", ``null``
lists. The rules:

- unknown fields are ignored; a field is read from its camelCase name, or from the names in its
  ``metadata["wire"]`` (first present wins);
- an optional field whose value cannot be read is dropped (``None``/its default) with a DEBUG log
  naming the field, never its value;
- an item missing a required field (no attrs default) is unreadable: a list drops it with a
  WARNING, and a single answer is a ``ProtocolError`` naming the field;
- lists come back as a ``Page``, which remembers how many items the server sent, so that a
  dropped item never makes a full page look short to the pager.

Pure: no I/O. Readers are built once per class from its resolved type hints.
"""

from __future__ import annotations

import enum
import logging
import types
import typing
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import attrs

from .errors import ProtocolError, ValidationError
from .models import (
    SHANGHAI,
    AcceptStatus,
    MeetingInfo,
    MeetingStatus,
    MeetingType,
    NoticeTime,
    ReadStatus,
)

__all__ = [
    "MEETING_ALIASES",
    "Page",
    "read_answer",
    "read_bool",
    "read_meetings",
    "read_page",
    "read_request",
    "wire_names",
]

T = TypeVar("T")
log = logging.getLogger("yzj_meeting")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).astimezone(SHANGHAI)
_MS = timedelta(milliseconds=1)
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class Page(list[T], Generic[T]):
    """One page of items; ``received`` counts what the server sent, unreadable items included."""

    received: int

    def __init__(self, items: Iterable[T] = (), *, received: int | None = None) -> None:
        super().__init__(items)
        self.received = len(self) if received is None else received


class _Odd(Exception):
    """A value this reader cannot read (the message names the type, never the value)."""


class _Unreadable(Exception):
    """An item missing a required field; ``args[0]`` is the field's path."""


Reader = Callable[[Any], Any]


def _read_str(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise _Odd(f"expected a string, got {type(value).__name__}")


def _read_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float and value.is_integer():
        return int(value)
    if kind is str:
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    raise _Odd(f"expected an integer, got {kind.__name__}")


def _read_bool(value: Any) -> bool:
    kind = type(value)
    if kind is bool:
        return value  # type: ignore[no-any-return]
    if kind is int and value in (0, 1):
        return bool(value)
    if kind is str:
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Odd(f"expected a boolean, got {kind.__name__}")


def _read_instant(value: Any) -> datetime | None:
    """Epoch ms (number or numeric string) in Asia/Shanghai; ``0`` means "no time"."""
    ms = _read_int(value)
    if ms == 0:
        return None
    try:
        return _EPOCH + ms * _MS
    except OverflowError:
        raise _Odd("expected epoch milliseconds, got an integer out of range") from None


def _enum_reader(cls: type[enum.Enum]) -> Reader:
    """The member, or the plain value when the SDK does not know it (newer servers add some)."""
    members = {m.value: m for m in cls}
    numeric = issubclass(cls, int)

    def read(value: Any) -> Any:
        if numeric:
            number = _read_int(value)
            return members.get(number, number)
        text = _read_str(value)
        if text == "":
            return None
        return members.get(text, text)

    return read


def _extra(where: str) -> dict[str, str]:
    """The ``extra`` of a log record about an answer: ``where`` starts with the endpoint."""
    return {"endpoint": where.partition("[")[0].partition(".")[0]}


def _tuple_reader(inner: Reader, where: str) -> Reader:
    """A list (a lone scalar is a list of one); an unreadable item is dropped with a log."""

    def read(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            if isinstance(value, dict | list):
                raise _Odd(f"expected a list, got {type(value).__name__}")
            value = [value]
        out = []
        for i, item in enumerate(value):
            try:
                result = inner(item)
            except (_Odd, _Unreadable) as exc:
                log.debug("answer %s[%d] dropped: %s", where, i, exc, extra=_extra(where))
                continue
            if result is not None:
                out.append(result)
        return tuple(out)

    return read


def read_bool(value: Any) -> bool | None:
    """``true``/``"true"``/``1``/``"1"`` and their opposites as a bool; anything else ``None``."""
    try:
        return _read_bool(value)
    except _Odd:
        return None


def _reader_for(hint: Any, where: str) -> Reader:
    if hint is Any:
        return lambda value: value
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums:
            return _enum_reader(enums[0])
        if len(args) == 1:
            return _reader_for(args[0], where)
        raise TypeError(f"{where}: no reader for {hint!r}")
    if origin is tuple:
        inner, *_ = typing.get_args(hint)
        return _tuple_reader(_reader_for(inner, where), where)
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return _enum_reader(hint)
        if attrs.has(hint):
            return lambda value: _read_model(hint, value, where)
        simple: dict[type, Reader] = {
            str: _read_str,
            bool: _read_bool,
            int: _read_int,
            datetime: _read_instant,
        }
        if hint in simple:
            return simple[hint]
    raise TypeError(f"{where}: no reader for {hint!r}")


def wire_names(field: attrs.Attribute[Any]) -> tuple[str, ...]:
    """The wire names a field is read from: ``metadata["wire"]`` (str or tuple) or camelCase."""
    names = field.metadata.get("wire")
    if names is None:
        head, *rest = field.name.split("_")
        return (head + "".join(part.capitalize() for part in rest),)
    return (names,) if isinstance(names, str) else tuple(names)


@attrs.frozen
class _Field:
    name: str
    wire: tuple[str, ...]
    read: Reader
    required: bool


_SPECS: dict[tuple[type, tuple[tuple[str, tuple[str, ...]], ...]], list[_Field]] = {}


def _spec(cls: type, aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> list[_Field]:
    key = (cls, aliases)
    spec = _SPECS.get(key)
    if spec is None:
        hints = typing.get_type_hints(cls)
        extra = dict(aliases)
        spec = [
            _Field(
                name=f.name,
                wire=extra.get(f.name) or wire_names(f),
                read=_reader_for(hints[f.name], f"{cls.__name__}.{f.name}"),
                required=f.default is attrs.NOTHING,
            )
            for f in attrs.fields(cls)
        ]
        _SPECS[key] = spec
    return spec


def _read_model(
    cls: type[T],
    data: Any,
    where: str,
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> T:
    if type(data) is not dict:
        raise _Unreadable(f"{where}: expected an object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for field in _spec(cls, aliases):
        raw = None
        wire = field.wire[0]
        for wire in field.wire:  # the name found is the one logged below
            raw = data.get(wire)
            if raw is not None:
                break
        value = None
        if raw is not None:
            try:
                value = field.read(raw)
            except (_Odd, _Unreadable) as exc:
                if field.required:
                    raise _Unreadable(f"{where}.{wire}: {exc}") from None
                log.debug("answer field %s.%s dropped: %s", where, wire, exc, extra=_extra(where))
        if value is not None:
            values[field.name] = value
        elif field.required:
            raise _Unreadable(f"{where}.{field.wire[0]}: missing")
    return cls(**values)


def read_answer(
    cls: type[T],
    data: Any,
    *,
    endpoint: str,
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> T:
    """One answer object as ``cls``; a missing required field is a ``ProtocolError`` naming it."""
    problem = ""
    try:
        return _read_model(cls, data, endpoint, aliases)
    except _Unreadable as exc:
        problem = str(exc)
    raise ProtocolError(f"unexpected answer data: {problem}", endpoint=endpoint)


def read_page(
    cls: type[T],
    data: Any,
    *,
    endpoint: str,
    aliases: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> Page[T]:
    """A list answer as a ``Page``: ``null`` is empty, an unreadable item is dropped with a
    WARNING naming the field, anything but a list is a ``ProtocolError``."""
    if data is None:
        return Page()
    if type(data) is not list:
        raise ProtocolError(
            f"answer data is not a list (got {type(data).__name__})", endpoint=endpoint
        )
    items: list[T] = []
    for i, item in enumerate(data):
        try:
            items.append(_read_model(cls, item, f"{endpoint}[{i}]", aliases))
        except _Unreadable as exc:
            log.warning("answer item dropped: %s", exc, extra=_extra(endpoint))
    return Page(items, received=len(data))


def read_request(cls: type[T], body: Any) -> T:
    """A request body (wire names, ms, numeric strings accepted) as request model ``cls``:
    for the emulator and the sample tests. Bad input is a ``ValidationError`` naming the field
    (the wire name when the value cannot be read, the model's when it breaks a rule)."""
    if type(body) is not dict:
        raise ValidationError("body", f"must be a JSON object, got {type(body).__name__}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problem: tuple[str, str] | None = None
    for field in attrs.fields(typing.cast(Any, cls)):
        wire = wire_names(field)[0]
        raw = body.get(wire)
        if raw is None:
            continue
        try:
            values[field.name] = _reader_for(hints[field.name], wire)(raw)
        except _Odd as exc:
            problem = (wire, str(exc))
            break
    if problem is not None:
        raise ValidationError(*problem)
    return cls(**values)


# --- meetings (queryByDay, queryByRange): a fast path for the well-formed ones ---

MEETING_ALIASES = (("openid", ("openid", "openId")),)
"""Wire names of ``MeetingInfo`` fields seen besides the documented ones."""

_STATUS = {m.value: m for m in MeetingStatus}
_READ = {m.value: m for m in ReadStatus}
_ACCEPT = {m.value: m for m in AcceptStatus}
_NOTICE = {m.value: m for m in NoticeTime}
_TYPE: dict[str, MeetingType | None] = {m.value: m for m in MeetingType}
_TYPE[""] = None  # an ordinary meeting
_STR = frozenset({str, type(None)})
_INT = frozenset({int, type(None)})


def read_meetings(data: Any, *, endpoint: str) -> Page[MeetingInfo]:
    """A list of meetings, never failed by one odd meeting or field: a meeting is read on a fast
    path when every field has its documented type, else field by field (an unreadable field is
    dropped with a DEBUG log; a meeting without a readable id, title, start or end is dropped
    with a WARNING). ``null`` is no meeting; anything but a list is a ``ProtocolError``."""
    if data is None:
        return Page()
    if type(data) is not list:
        raise ProtocolError("answer data is not a list of meetings", endpoint=endpoint)
    items: list[MeetingInfo] = []
    for i, item in enumerate(data):
        info = _fast_meeting(item) if type(item) is dict else None
        if info is None:
            try:
                info = _read_model(
                    MeetingInfo, _notice_list(item), f"{endpoint}[{i}]", MEETING_ALIASES
                )
            except _Unreadable as exc:
                log.warning("answer item dropped: %s", exc)
                continue
        items.append(info)
    return Page(items, received=len(data))


def _notice_list(item: Any) -> Any:
    """Real deployments send ``"noticeTime": []`` (or a list) where the seed has a number: an
    empty list is no reminder, a list is read as ``noticeTimes``."""
    if type(item) is not dict or type(item.get("noticeTime")) is not list:
        return item
    item = dict(item)
    values = item.pop("noticeTime")
    if values and "noticeTimes" not in item:
        item["noticeTimes"] = values
    return item


def _fast_meeting(d: dict[str, Any]) -> MeetingInfo | None:
    """``d`` as a ``MeetingInfo`` when every field has its documented type; else ``None``
    (the field-by-field reader then decides). Gives what that reader gives for such ``d``."""
    get = d.get
    id_, title, start, end = get("id"), get("title"), get("startDate"), get("endDate")
    openid = get("openid")
    if openid is None:
        openid = get("openId")
    content, place, person = get("content"), get("meetingPlace"), get("personName")
    room, order, reason, kind = get("roomId"), get("roomOrderId"), get("cancelReason"), get("type")
    status, read, accept = get("meetingStatus"), get("readStatus"), get("acceptStatus")
    notice, done, created, cancelled = (
        get("noticeTime"),
        get("doneTime"),
        get("createDate"),
        get("cancelDate"),
    )
    notices = get("noticeTimes")
    if not (
        type(id_) is str
        and type(title) is str
        and type(start) is int
        and type(end) is int
        and start
        and end
        and type(openid) in _STR
        and type(content) in _STR
        and type(place) in _STR
        and type(person) in _STR
        and type(room) in _STR
        and type(order) in _STR
        and type(reason) in _STR
        and type(kind) in _STR
        and type(status) in _INT
        and type(read) in _INT
        and type(accept) in _INT
        and type(notice) in _INT
        and type(done) in _INT
        and type(created) in _INT
        and type(cancelled) in _INT
        and (notices is None or (type(notices) is list and all(type(n) is int for n in notices)))
    ):
        return None
    try:
        return MeetingInfo(
            id_,
            title,
            _EPOCH + start * _MS,
            _EPOCH + end * _MS,
            openid,
            _TYPE.get(kind, kind) if kind is not None else None,
            content,
            place,
            _STATUS.get(status, status) if status is not None else None,
            _READ.get(read, read) if read is not None else None,
            _ACCEPT.get(accept, accept) if accept is not None else None,
            person,
            _EPOCH + done * _MS if done else None,
            _NOTICE.get(notice, notice) if notice is not None else None,
            _EPOCH + created * _MS if created else None,
            room,
            order,
            _EPOCH + cancelled * _MS if cancelled else None,
            reason,
            tuple(notices) if notices is not None else None,
        )
    except OverflowError:
        return None
