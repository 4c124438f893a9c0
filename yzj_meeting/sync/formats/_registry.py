"""The schedule format registry: each format module registers its reader under its extensions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from ..entry import Problem, Record

__all__ = ["Format", "Reader", "by_extension", "formats", "register"]

Reader = Callable[[str, str, list[Problem]], Iterable[Record]]
"""``read(text, path, problems)``: the records of a file; problems found are appended."""


@attrs.frozen
class Format:
    """A schedule format: its ``name``, the file ``extensions`` it is chosen by, its reader."""

    name: str
    extensions: tuple[str, ...]
    read: Reader


_FORMATS: dict[str, Format] = {}
_EXTENSIONS: dict[str, Format] = {}


def register(name: str, *extensions: str) -> Callable[[Reader], Reader]:
    """Decorator: register ``read`` as format ``name``, chosen by ``extensions`` (no dot)."""

    def add(read: Reader) -> Reader:
        fmt = Format(name, (name, *extensions), read)
        _FORMATS[name] = fmt
        for extension in fmt.extensions:
            _EXTENSIONS[extension.lower()] = fmt
        return read

    return add


def formats() -> list[Format]:
    """Every registered format, in registration order."""
    return list(_FORMATS.values())


def by_extension(extension: str) -> Format | None:
    """The format chosen by ``extension`` (a format name works too), or ``None``."""
    return _EXTENSIONS.get(extension.lower().lstrip("."))
