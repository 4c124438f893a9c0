"""Field readers for request bodies: each returns a typed value or raises a parameter error
naming the field. Shared by ``wire`` (the route table), ``queries`` and ``bookings``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .codes import param

__all__ = [
    "choice",
    "flag",
    "int_list",
    "oids",
    "page",
    "read_int",
    "read_text",
    "required_int",
    "required_text",
]

_INT_RE: Final = re.compile(r"-?[0-9]+")


def read_text(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string."""
    value = body.get(name)
    if value is None or type(value) is str:
        return value
    raise param(f"{name} must be a string")


def required_text(body: Mapping[str, Any], name: str) -> str:
    """A non-empty string."""
    value = body.get(name)
    if value is None or value == "":
        raise param(f"{name} is required")
    if type(value) is not str:
        raise param(f"{name} must be a string")
    return value


def read_int(body: Mapping[str, Any], name: str) -> int | None:
    """An optional integer, also as an integer string; ``""`` counts as missing."""
    value = body.get(name)
    if type(value) is int:
        return value
    if value is None or value == "":
        return None
    if type(value) is str and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise param(f"{name} must be an integer")


def required_int(body: Mapping[str, Any], name: str) -> int:
    """An integer that must be there."""
    value = read_int(body, name)
    if value is None:
        raise param(f"{name} is required")
    return value


def choice(body: Mapping[str, Any], name: str, allowed: frozenset[int]) -> int | None:
    """An optional integer out of ``allowed``."""
    value = read_int(body, name)
    if value is None or value in allowed:
        return value
    raise param(f"{name} must be one of {sorted(allowed)}, not {value}")


def flag(body: Mapping[str, Any], name: str) -> bool | None:
    """An optional JSON boolean."""
    value = body.get(name)
    if value is None or type(value) is bool:
        return value
    raise param(f"{name} must be true or false")


def oids(body: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    """An optional list of non-empty strings, de-duplicated (first occurrence kept)."""
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not list or not all(type(v) is str and v for v in value):
        raise param(f"{name} must be a list of non-empty oid strings")
    return tuple(dict.fromkeys(value))


def int_list(body: Mapping[str, Any], name: str, minimum: int) -> tuple[int, ...] | None:
    """An optional list of JSON integers, each at least ``minimum``."""
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not list or not all(type(v) is int and v >= minimum for v in value):
        raise param(f"{name} must be a list of integers of at least {minimum}")
    return tuple(value)


def page(
    body: Mapping[str, Any], number: str, size: str, default_size: int, most: int | None = None
) -> tuple[int, int]:
    """``(page number from 1, page size)``: ``number`` defaults to 1, ``size`` to
    ``default_size``; both at least 1, ``size`` at most ``most`` when given."""
    index = read_int(body, number)
    count = read_int(body, size)
    index = 1 if index is None else index
    count = default_size if count is None else count
    if index < 1:
        raise param(f"{number} must be at least 1, not {index}")
    if count < 1:
        raise param(f"{size} must be at least 1, not {count}")
    if most is not None and count > most:
        raise param(f"{size} must be at most {most}, not {count}")
    return index, count
