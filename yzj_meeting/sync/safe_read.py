"""Reading a schedule file without trusting it (pure checks plus one bounded read).

- :func:`read_text`: only a regular file (a FIFO, a device, a directory or a symlink to
  ``/dev/zero`` is refused before a byte is read), at most :data:`MAX_BYTES`, strict UTF-8
  (a BOM is dropped);
- :func:`check_text`: no control characters but tab and line breaks (NUL included), no lone
  surrogates, each named by ``file:line``;
- :func:`load_json`: JSON with duplicate keys, nesting deeper than :data:`MAX_DEPTH`, numbers
  of more than :data:`MAX_DIGITS` digits, ``NaN``/``Infinity`` and escaped control characters
  or lone surrogates (``"\\u0000"``, ``"\\ud800"``) all refused with their line;
- :func:`csv_delimiter`: the separator of a CSV file as Excel or Google Sheets wrote it.

Every problem is a :class:`~yzj_meeting.sync.problems.Problem`; the functions add to the list
they are given and return ``None`` (or a partial value) when the file cannot be used.
"""

from __future__ import annotations

import contextlib
import json
import json.decoder
import json.scanner
import os
import re
import stat
from typing import Any

from .problems import Problem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "check_text",
    "csv_delimiter",
    "line_of",
    "load_json",
    "read_text",
]

MAX_BYTES = 16 * 1024 * 1024
"""Largest schedule file read (16 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of JSON arrays and objects accepted."""
MAX_DIGITS = 30
"""Most digits a JSON number may have."""
_MAX_REPORTED = 20

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# JSON escapes that decode to a control character or to half a surrogate pair; an even run of
# backslashes before them is escaped backslashes, not an escape.
_BAD_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*(\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: 3x faster
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")
_JSON_OBJECT: Any = getattr(json.decoder, "JSONObject")  # noqa: B009 (not in the stubs)
_PY_SCANNER: Any = getattr(json.scanner, "py_make_scanner")  # noqa: B009
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text(path: str, problems: list[Problem], *, limit: int = MAX_BYTES) -> str | None:
    """The UTF-8 text of the regular file ``path`` (a symlink to one is fine), or ``None``."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        problems.append(Problem(path, None, None, f"cannot read: {exc.strerror or exc}"))
        return None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            problems.append(Problem(path, None, None, f"is {kind}: give a regular schedule file"))
            return None
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        problems.append(Problem(path, None, None, f"cannot read: {exc.strerror or exc}"))
        return None
    finally:
        os.close(fd)
    if len(data) > limit:
        problems.append(
            Problem(path, None, None, f"is larger than {limit // (1024 * 1024)} MiB: split it")
        )
        return None
    return decode(data, path, problems)


def decode(data: bytes, path: str, problems: list[Problem]) -> str | None:
    """Strict UTF-8 (a leading BOM dropped); a bad byte is reported at its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(
            Problem(
                path,
                line,
                None,
                f"not UTF-8 (byte 0x{data[exc.start]:02x}): save the file as UTF-8",
            )
        )
        return None


def check_text(text: str, path: str, problems: list[Problem]) -> bool:
    """Report each line holding a control character (not tab or line break) or a lone
    surrogate; ``True`` when there is none."""
    if not _CONTROL.search(text) and not _SURROGATE.search(text):
        return True
    found = 0
    for number, line in enumerate(text.split("\n"), 1):
        bad = _CONTROL.search(line) or _SURROGATE.search(line)
        if bad is None:
            continue
        found += 1
        if found <= _MAX_REPORTED:
            problems.append(Problem(path, number, None, _describe(bad.group(), bad.start() + 1)))
    return False


def _describe(char: str, column: int) -> str:
    what = "a lone surrogate" if _SURROGATE.match(char) else "a control character"
    return f"{what} U+{ord(char):04X} at column {column}: remove it"


def line_of(text: str, offset: int) -> int:
    """The 1-based line number of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1


class _Refused(Exception):
    """``needle``: a pattern whose (last) match in the text is where the problem is."""

    def __init__(self, message: str, needle: str | None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.needle = needle
        self.field = field


def load_json(text: str, path: str, problems: list[Problem], *, first_line: int = 1) -> Any:
    """Parse JSON refusing what would silently change or crash; ``None`` on a problem.

    ``first_line`` is the file line of ``text``'s first line (for one JSONL line).
    """
    before = len(problems)

    def bad(offset: int, message: str) -> None:
        problems.append(Problem(path, first_line - 1 + line_of(text, offset), None, message))

    for match in _BAD_ESCAPE.finditer(text):
        escape = match.group(1)
        code = int(escape[2:], 16)
        kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
        bad(match.start(1), f"{escape} is {kind} (U+{code:04X}): remove it")
        if len(problems) - before >= _MAX_REPORTED:
            return None
    depth = 0
    for match in () if _shallow(text) else _BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                bad(match.start(), f"nested more than {MAX_DEPTH} levels deep")
                return None
        elif token in "]}":
            depth -= 1
    if len(problems) > before:
        return None
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_integer,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        problems.append(
            Problem(path, first_line - 1 + exc.lineno, None, f"not valid JSON: {exc.msg}")
        )
    except _Refused as exc:
        offset = _duplicate_at(text) if exc.needle is None else _last(exc.needle, text)
        line = None if offset is None else first_line - 1 + line_of(text, offset)
        problems.append(Problem(path, line, exc.field, exc.message))
    except (RecursionError, ValueError) as exc:  # a backstop: both are caught above first
        problems.append(Problem(path, None, None, f"not valid JSON: {exc}"))
    return None


def _shallow(text: str) -> bool:
    """Whether ``text`` surely nests no deeper than ``MAX_DEPTH`` (a fast, C-speed check; when
    it says no, the exact scan finds where). Each pass removes the innermost bracket pairs, so
    a text nested ``d`` deep (strings left out) is empty after ``d`` passes."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):
        if not brackets:
            return True
        brackets = _PAIR.sub("", brackets)
    return not brackets


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(
                "appears twice in the object starting on this line: one value would be lost",
                None,
                key,
            )
        out[key] = value
    return out


def _last(pattern: str, text: str) -> int | None:
    starts = [m.start() for m in re.finditer(pattern, text)]
    return starts[-1] if starts else None


def _duplicate_at(text: str) -> int | None:
    """Where the first object holding a duplicate key starts: the C parser keeps no
    positions, so the text is parsed again (only then) with the pure-Python one."""
    where: list[int] = []

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> Any:
        start = s_and_end[1] - 1

        def pairs_hook(pairs: list[tuple[str, Any]]) -> Any:
            keys = [k for k, _ in pairs]
            if len(set(keys)) != len(keys) and not where:
                where.append(start)
            return dict(pairs)

        strict, scan_once, object_hook, _, memo = args
        return _JSON_OBJECT(s_and_end, strict, scan_once, object_hook, pairs_hook, memo)

    decoder: Any = json.JSONDecoder(parse_int=_integer, parse_constant=_constant)
    decoder.parse_object = parse_object
    decoder.scan_once = _PY_SCANNER(decoder)
    with contextlib.suppress(ValueError, _Refused, RecursionError):
        decoder.decode(text)
    return where[0] if where else None


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        count = len(digits.lstrip("-"))
        raise _Refused(f"a number of {count} digits: too large", re.escape(digits[:40]))
    return int(digits)


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value", re.escape(name))


def csv_delimiter(text: str, known: frozenset[str]) -> str:
    """The separator of a CSV file: the one among ``,``, ``;`` and tab that splits the header
    into the most ``known`` column names (Excel writes ``;`` where the decimal mark is a
    comma); ``,`` when none does better."""
    header = text.split("\n", 1)[0].lstrip("\ufeff")

    def score(separator: str) -> int:
        cells = header.split(separator)
        return sum(1 for cell in cells if cell.strip().strip('"').lower() in known)

    best = max((",", ";", "\t"), key=score)
    return best if score(best) > score(",") else ","
