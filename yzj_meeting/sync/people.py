"""The people map: email address -> Yunzhijia oid, for calendars that name people by email.

Google and Outlook exports write ``ORGANIZER:mailto:wang.wei@example.com``; the service takes
oids. A schedule naming someone by email (``mailto:`` in an ICS file, or an ``openid`` or
attendee that looks like an address in CSV/JSON) is refused unless the map given with
``--people FILE`` resolves it. The map is

- CSV: a header with ``email`` and ``oid`` columns (``openid`` is taken for ``oid``), one
  person a row; ``,`` ``;`` or tab separated, UTF-8 (a BOM is fine);
- JSON: ``{"wang.wei@example.com": "5f0c...", ...}`` or ``[{"email": ..., "oid": ...}]``.

Addresses match case-insensitively; one address mapped to two oids is refused.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .problems import Problem
from .safe_read import check_text, csv_delimiter, load_json, read_text

__all__ = ["PeopleMap", "load_people", "looks_like_email", "resolve_person"]

_EMAIL = re.compile(r"[^@\s:;,<>\"]+@[^@\s:;,<>\"]+\.[^@\s:;,<>\".]+")


@attrs.frozen
class PeopleMap:
    """Email addresses (lower-cased) to oids, read from ``path``."""

    oids: Mapping[str, str]
    path: str = "<people>"

    def get(self, email: str) -> str | None:
        """The oid of ``email``, if the map has it."""
        return self.oids.get(email.strip().lower())


def looks_like_email(value: str) -> bool:
    """Whether ``value`` is an email address (with or without ``mailto:``) rather than an oid."""
    text = value.strip()
    if text[:7].lower() == "mailto:":
        return True
    return _EMAIL.fullmatch(text) is not None


def resolve_person(value: str, people: PeopleMap | None) -> str:
    """The oid for ``value``: itself when it is an oid, else the map's entry for the address.

    Raises ``ValueError`` with a message saying what to do when an address is not mapped.
    """
    text = value.strip()
    if not looks_like_email(text):
        return text
    email = _address(text)
    if people is None:
        raise ValueError(
            f"{email} is an email address, not a Yunzhijia oid: map it to an oid in a people "
            "file (CSV email,oid) given with --people FILE"
        )
    oid = people.get(email)
    if oid is None:
        raise ValueError(f"{email} is not in the people map {people.path}: add its oid there")
    return oid


def _address(value: str) -> str:
    text = value.strip()
    return text[7:].strip() if text[:7].lower() == "mailto:" else text


def load_people(path: str, problems: list[Problem]) -> PeopleMap | None:
    """Read a people map (CSV or JSON, by extension); ``None`` with problems when wrong."""
    before = len(problems)
    text = read_text(path, problems)
    if text is None or not check_text(text, path, problems):
        return None
    pairs: list[tuple[int | None, Any, Any]]
    if Path(path).suffix.lower() == ".json":
        document = load_json(text, path, problems)
        if len(problems) > before:
            return None
        pairs = _json_pairs(document, path, problems)
    else:
        pairs = _csv_pairs(text, path, problems)
    oids: dict[str, str] = {}
    lines: dict[str, int | None] = {}
    for line, email, oid in pairs:
        address = _address(email) if isinstance(email, str) else ""
        if _EMAIL.fullmatch(address) is None:
            problems.append(Problem(path, line, "email", f"not an email address: {email!r}"))
            continue
        if not isinstance(oid, str) or not oid.strip() or looks_like_email(oid):
            problems.append(Problem(path, line, "oid", f"not an oid: {oid!r}"))
            continue
        key = address.lower()
        if key in oids and oids[key] != oid.strip():
            also = f" (also line {lines[key]})" if lines[key] else ""
            problems.append(Problem(path, line, "email", f"{address} has two oids{also}"))
            continue
        oids[key], lines[key] = oid.strip(), line
    if len(problems) > before:
        return None
    return PeopleMap(oids, path)


def _json_pairs(
    document: Any, path: str, problems: list[Problem]
) -> list[tuple[int | None, Any, Any]]:
    if isinstance(document, dict):
        return [(None, email, oid) for email, oid in document.items()]
    if isinstance(document, list):
        out: list[tuple[int | None, Any, Any]] = []
        for i, item in enumerate(document):
            if not isinstance(item, dict):
                problems.append(Problem(path, None, f"[{i}]", 'must be {"email", "oid"}'))
                continue
            out.append((None, item.get("email"), item.get("oid", item.get("openid"))))
        return out
    problems.append(
        Problem(path, None, None, 'must be {"email": "oid", ...} or [{"email", "oid"}, ...]')
    )
    return []


def _csv_pairs(text: str, path: str, problems: list[Problem]) -> list[tuple[int | None, Any, Any]]:
    delimiter = csv_delimiter(text, frozenset(("email", "oid", "openid")))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[tuple[int | None, Any, Any]] = []
    try:
        header = [c.strip().lower() for c in next(reader, [])]
        oid_column = "oid" if "oid" in header else "openid"
        if "email" not in header or oid_column not in header:
            problems.append(Problem(path, 1, None, "the header must name email and oid columns"))
            return []
        at_email, at_oid = header.index("email"), header.index(oid_column)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = row + [""] * (len(header) - len(row))
            out.append((reader.line_num, cells[at_email], cells[at_oid]))
    except csv.Error as exc:
        problems.append(Problem(path, reader.line_num, None, f"not valid CSV: {exc}"))
    return out
