"""``.jsonl`` / ``.ndjson``: one meeting object a line; blank lines are skipped."""

from __future__ import annotations

from ..entry import Problem, Record
from ..safe_read import load_json
from ._registry import register

__all__ = ["read"]


@register("jsonl", "ndjson")
def read(text: str, path: str, problems: list[Problem]) -> list[Record]:
    """One record per non-blank line."""
    records: list[Record] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        before = len(problems)
        record = load_json(raw, path, problems, first_line=number)
        if len(problems) == before:
            records.append((number, record, frozenset()))
    return records
