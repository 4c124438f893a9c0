"""``.jsonl`` / ``.ndjson``: one meeting object a line; blank lines are skipped."""

from __future__ import annotations

import json

from ..entry import Problem, Record
from ._registry import register

__all__ = ["read"]


@register("jsonl", "ndjson")
def read(text: str, path: str, problems: list[Problem]) -> list[Record]:
    """One record per non-blank line."""
    records: list[Record] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            records.append((number, json.loads(raw), frozenset()))
        except json.JSONDecodeError as exc:
            problems.append(Problem(path, number, None, f"not valid JSON: {exc.msg}"))
    return records
