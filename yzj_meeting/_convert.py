"""The wire format, in one place: one cattrs converter and the JSON codec.

- names: snake_case attributes <-> camelCase wire fields (``meeting_place`` <-> ``meetingPlace``);
- instants: aware ``datetime`` <-> epoch milliseconds (exact integer arithmetic, no float);
- ``top_state``: ``bool`` <-> ``0``/``1``; enums <-> their values;
- unset (``None``) fields are omitted from request bodies;
- reading is tolerant: unknown fields ignored, numeric strings accepted, missing optional fields
  become ``None``, enum values the SDK does not know are kept as plain ``int``/``str``; a
  missing required field or a wrong type raises, and ``structure_answer``
  turns that into a ``ProtocolError`` naming the field.

Hooks are specialised per type and made once per class by hook factories on ``attrs.has``
(cattrs' generic ``X | None`` handling dominates list decoding otherwise). A field's wire name
is the camelCase of its name unless its metadata says otherwise (``WIRE_NAME``); ``WIRE_FLAG``
marks a ``bool`` sent as ``0``/``1``.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .errors import ProtocolError
from .models import (
    SHANGHAI,
    WIRE_FLAG,
    WIRE_NAME,
    AcceptStatus,
    MeetingStatus,
    MeetingType,
    NoticeTime,
    QueryByDay,
    ReadStatus,
    Repeat,
)

__all__ = [
    "converter",
    "decode_json",
    "encode_json",
    "from_ms",
    "make_converter",
    "structure_answer",
    "to_camel",
    "to_ms",
    "unstructure",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_SHANGHAI = _EPOCH.astimezone(SHANGHAI)
_MS = timedelta(milliseconds=1)


def to_camel(name: str) -> str:
    """``meeting_place`` -> ``meetingPlace``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_ms(value: datetime) -> int:
    """An aware datetime as epoch milliseconds (sub-millisecond part truncated)."""
    return (value - _EPOCH) // _MS


def from_ms(value: Any) -> datetime:
    """Epoch milliseconds (an int, or a numeric string) as a datetime in Asia/Shanghai."""
    return _EPOCH_SHANGHAI + _int(value) * _MS


def _int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is str or (kind is float and value.is_integer()):
        return int(value)
    raise TypeError(f"expected an integer, got {kind.__name__}")


def _str(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    raise TypeError(f"expected a string, got {kind.__name__}")


def _str_tuple(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return tuple(_str(item) for item in value)


def _optional(hook: Callable[[Any], T]) -> Callable[[Any, Any], T | None]:
    def structure(value: Any, _: Any) -> T | None:
        return None if value is None else hook(value)

    return structure


def _read_optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return _str(value)


def _read_instant(value: Any, _: Any = None) -> datetime:
    if type(value) is int:
        return _EPOCH_SHANGHAI + value * _MS
    return from_ms(value)


def _read_optional_instant(value: Any, _: Any) -> datetime | None:
    return None if value is None else _read_instant(value)


def _int_enum(cls: type[E]) -> Callable[[Any, Any], E | int | None]:
    """Enum values as members; an integer the SDK does not know stays a plain ``int``."""
    members: dict[Any, E] = {m.value: m for m in cls}

    def structure(value: Any, _: Any) -> E | int | None:
        if value is None:
            return None
        member = members.get(value) if type(value) is int else None
        if member is not None:
            return member
        number = _int(value)
        return members.get(number, number)

    return structure


def _meeting_type(value: Any) -> MeetingType | str | None:
    # The seed documents null for an ordinary meeting; an empty string means the same.
    if value == "":
        return None
    try:
        return MeetingType(value)
    except ValueError:
        return _str(value)


def _flag_out(value: bool) -> int:
    return 1 if value else 0


def _flag_in(value: Any, _: Any) -> bool | None:
    return None if value is None else bool(_int(value))


def _overrides(cls: type, *, reading: bool) -> dict[str, Any]:
    """Per-field overrides of an attrs class: camelCase names, metadata-named exceptions."""
    out: dict[str, Any] = {}
    for field in attrs.fields(cls):
        rename = field.metadata.get(WIRE_NAME) or to_camel(field.name)
        hooks: dict[str, Any] = {}
        if field.metadata.get(WIRE_FLAG):
            hooks = {"struct_hook": _flag_in} if reading else {"unstruct_hook": _flag_out}
        if hooks or rename != field.name:
            out[field.name] = override(rename=rename, **hooks)
    return out


def make_converter(*, detailed: bool = False) -> cattrs.Converter:
    """The wire-format converter. ``detailed`` trades speed for error paths naming fields.

    Every attrs class goes through the hook factories below (as lsprotocol does): a new model
    needs no registration to travel camelCase, unset fields omitted.
    """
    conv = cattrs.Converter(detailed_validation=detailed)

    conv.register_unstructure_hook(datetime, to_ms)
    conv.register_structure_hook(datetime, _read_instant)
    conv.register_structure_hook(datetime | None, _read_optional_instant)
    conv.register_structure_hook(str, lambda v, _: _str(v))
    conv.register_structure_hook(str | None, _read_optional_str)
    conv.register_structure_hook(MeetingType | None, _optional(_meeting_type))
    conv.register_structure_hook(MeetingType | str | None, _optional(_meeting_type))
    for enum_cls in (NoticeTime, Repeat, MeetingStatus, ReadStatus, AcceptStatus):
        hook = _int_enum(enum_cls)
        conv.register_structure_hook(enum_cls | None, hook)
        conv.register_structure_hook(enum_cls | int | None, hook)
        conv.register_structure_hook(enum_cls, _required(hook))
    # Values that are already JSON: ``identity`` lets cattrs inline them, with no call per field.
    for passthrough in (str | None, bool | None, tuple[str, ...] | None):
        conv.register_unstructure_hook(passthrough, identity)
    conv.register_unstructure_hook(MeetingType | None, lambda v: v.value)
    conv.register_unstructure_hook(NoticeTime | None, int)
    conv.register_unstructure_hook(Repeat, int)
    conv.register_structure_hook(tuple[str, ...] | None, _optional(_str_tuple))

    def unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(
            cls, conv, _cattrs_omit_if_default=True, **_overrides(cls, reading=False)
        )

    def structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        # Reading request bodies serves the emulator and the sample round-trip tests.
        return make_dict_structure_fn(cls, conv, **_overrides(cls, reading=True))

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    conv.register_structure_hook_factory(attrs.has, structure_factory)
    # The one body that is not its fields: a date travels as an instant inside that day.
    conv.register_unstructure_hook(QueryByDay, lambda q: {"day": to_ms(q.instant)})
    conv.register_structure_hook(QueryByDay, lambda v, _: QueryByDay(from_ms(v["day"])))
    return conv


def _required(hook: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def structure(value: Any, _: Any) -> T:
        result = hook(value, _)
        if result is None:
            raise TypeError("a value is required")
        return result

    return structure


converter = make_converter()
_diagnostic = make_converter(detailed=True)


_UNSTRUCTURE: dict[type, Callable[[Any], dict[str, Any]]] = {}


def unstructure(model: Any) -> dict[str, Any]:
    """A request model as its wire dict (camelCase, ms, unset fields omitted)."""
    hook = _UNSTRUCTURE.get(type(model))  # skips cattrs' dispatch on the hot path
    if hook is None:
        hook = _UNSTRUCTURE[type(model)] = converter.get_unstructure_hook(type(model))
    return hook(model)


def structure_answer(data: Any, cls: type[T], *, endpoint: str) -> T:
    """Decode answer data into ``cls``; any mismatch is a ``ProtocolError`` naming the field."""
    try:
        return converter.structure(data, cls)
    except Exception:
        pass
    # cattrs' errors quote the offending values: raised outside the ``except`` so that no
    # ``__context__`` carries answer data.
    detail = ""
    try:
        _diagnostic.structure(data, cls)
    except Exception as exc:
        detail = ": " + "; ".join(cattrs.transform_error(exc))
    raise ProtocolError(f"unexpected answer data{detail}", endpoint=endpoint)


# --- JSON: orjson when installed (the ``speed`` extra), the standard library otherwise ---

_orjson: Any = None
if not os.environ.get("YZJ_MEETING_NO_ORJSON"):
    with contextlib.suppress(ImportError):
        # Imported by name: the extra is optional, so type checkers may not find it.
        _orjson = importlib.import_module("orjson")

if _orjson is not None:
    encode_json: Callable[[Any], bytes] = _orjson.dumps
    decode_json: Callable[[bytes], Any] = _orjson.loads
else:  # pragma: no cover - depends on the environment
    import json.encoder
    import json.scanner

    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
    # ``JSONEncoder.encode`` builds a C encoder (and a closure) on every call, and ``json.loads``
    # sniffs the encoding and skips whitespace in Python: build the C encoder and scanner once.
    _c_encode: Any = (
        json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None,
            _encoder.default,
            json.encoder.encode_basestring,
            None,
            ":",
            ",",
            False,
            False,
            True,
        )
        if getattr(json.encoder, "c_make_encoder", None) is not None
        else None
    )
    _c_scan: Any = (
        json.scanner.c_make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]
        if getattr(json.scanner, "c_make_scanner", None) is not None
        else None
    )

    def encode_json(obj: Any) -> bytes:
        """Compact UTF-8 JSON."""
        if _c_encode is not None and type(obj) is dict:
            return "".join(_c_encode(obj, 0)).encode()
        return _encoder.encode(obj).encode()

    def decode_json(data: bytes) -> Any:
        """JSON from UTF-8 bytes; anything unusual (BOM, whitespace, errors) goes through
        ``json.loads``, which also raises the error."""
        if _c_scan is not None:
            try:
                text = data.decode()
                value, end = _c_scan(text, 0)
            except (ValueError, StopIteration):
                pass
            else:
                if end == len(text):
                    return value
        return json.loads(data)
