"""``.csv``: a header row naming the fields (any order), then one meeting a row (UTF-8).

Cells are separated by ``,``, ``;`` or tabs (Excel writes ``;`` in some locales).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator

from ..entry import FIELDS, REQUIRED, Problem, Record
from ..safe_read import csv_delimiter
from ._registry import register

__all__ = ["read"]


@register("csv")
def read(text: str, path: str, problems: list[Problem]) -> Iterator[Record]:
    """A header row naming the fields, then one meeting a row."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=csv_delimiter(text, frozenset(FIELDS))
    )
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(path, 1, None, "empty file: expected a header row"))
        return
    except csv.Error as exc:
        problems.append(Problem(path, 1, None, f"not valid CSV: {exc}"))
        return
    columns = [c.strip() for c in header]
    for column in columns:
        if column not in FIELDS:
            problems.append(Problem(path, 1, column or "(empty)", "unknown column"))
    for column in sorted(c for c, n in Counter(columns).items() if n > 1):
        problems.append(Problem(path, 1, column, "column appears more than once"))
    missing = frozenset(c for c in REQUIRED if c not in columns)
    for column in sorted(missing, key=REQUIRED.index):
        problems.append(Problem(path, 1, column, "required column is missing"))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(Problem(path, reader.line_num, None, f"not valid CSV: {exc}"))
            return
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            problems.append(
                Problem(path, line, None, f"{len(row)} cells, but the header has {len(columns)}")
            )
            continue
        record = {
            column: cell
            for column, cell in zip(columns, row, strict=False)
            if column in FIELDS and cell.strip()
        }
        yield line, record, missing
