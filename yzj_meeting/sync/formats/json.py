"""``.json``: a list of meeting objects, or ``{"meetings": [...]}``."""

from __future__ import annotations

import json

from ..entry import Problem, Record
from ..safe_read import load_json
from ._registry import register

__all__ = ["LineCounter", "item_lines", "read"]

_SPACE = " \t\r\n"


@register("json")
def read(text: str, path: str, problems: list[Problem]) -> list[Record]:
    """The meetings of a JSON schedule, each with the line it starts on."""
    before = len(problems)
    document = load_json(text, path, problems)
    if len(problems) > before:
        return []
    if isinstance(document, dict):
        for k in (k for k in document if k != "meetings"):
            problems.append(Problem(path, 1, k, "unknown top-level field (expected 'meetings')"))
        meetings = document.get("meetings")
        if not isinstance(meetings, list):
            problems.append(Problem(path, 1, "meetings", "must be a list of meetings"))
            return []
    elif isinstance(document, list):
        meetings = document
    else:
        problems.append(
            Problem(path, 1, None, 'expected a list of meetings or {"meetings": [...]}')
        )
        return []
    lines: list[int | None] = list(item_lines(text))
    if len(lines) != len(meetings):  # cannot happen for valid JSON; stay safe anyway
        lines = [None] * len(meetings)
    return [(line, item, frozenset()) for line, item in zip(lines, meetings, strict=True)]


class LineCounter:
    """Line numbers of increasing positions in ``text``, counting each character once.

    ``scanned`` is how many characters were looked at in all: at most ``len(text)``, so
    numbering every item of a file is linear in its size (not one count from the start each).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.scanned = 0
        self._pos = 0
        self._line = 1

    def line_at(self, pos: int) -> int:
        """The line (from 1) of position ``pos``; positions must not decrease."""
        if pos < self._pos:
            raise ValueError("positions must not decrease")
        self._line += self.text.count("\n", self._pos, pos)
        self.scanned += pos - self._pos
        self._pos = pos
        return self._line


def item_lines(text: str, counter: LineCounter | None = None) -> list[int]:
    """The line on which each meeting of a (valid) JSON schedule starts."""
    decoder = json.JSONDecoder()
    counter = counter if counter is not None else LineCounter(text)
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in _SPACE:
            i += 1
        return i

    def array(i: int) -> list[int]:
        starts = []
        i = skip(i + 1)
        while i < n and text[i] != "]":
            starts.append(counter.line_at(i))
            _, i = decoder.raw_decode(text, i)
            i = skip(i)
            if i < n and text[i] == ",":
                i = skip(i + 1)
        return starts

    i = skip(0)
    if i < n and text[i] == "[":
        return array(i)
    i = skip(i + 1)
    found: list[int] = []
    while i < n and text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = skip(skip(i) + 1)  # past the colon
        if key == "meetings" and i < n and text[i] == "[":
            found = array(i)
        _, i = decoder.raw_decode(text, i)
        i = skip(i)
        if i < n and text[i] == ",":
            i = skip(i + 1)
    return found
