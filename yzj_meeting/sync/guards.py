"""Checks a sync runs before sending anything: a readable journal, a sane prune.

- :func:`read_journal`: every row of the journal, or one line saying which file is damaged,
  how, and what to do (garbage, a foreign SQLite schema, a directory in its place, a row whose
  JSON does not parse all end there instead of in a traceback half-way through a run);
- :func:`prune_refusal`: a prune that would cancel more than half of the meetings the journal
  knows (an empty or truncated schedule file, most likely) is refused unless confirmed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .journal import _COLUMNS, Journal, JournalError, JournalRow
from .plan import Action, ActionKind

__all__ = ["JournalDamaged", "prune_refusal", "read_journal"]


class JournalDamaged(Exception):
    """The journal cannot be read; the message is the one line to show."""


async def read_journal(path: str | os.PathLike[str], target: str) -> dict[str, JournalRow]:
    """The journal's rows for ``target`` (none when there is no journal yet).

    Raises :class:`JournalDamaged` naming the file and what to do; never creates the file.
    """
    where = Path(path)
    kind = _kind(where)
    if kind == "missing":
        return {}
    if kind != "file":
        raise JournalDamaged(_message(where, f"it is {kind}, not a file"))
    try:
        await asyncio.to_thread(_check_columns, where)
        async with await Journal.open(where, target, readonly=True) as journal:
            rows = await journal.rows()
            await journal.mapped_ids()
    except (JournalError, sqlite3.Error) as exc:
        raise JournalDamaged(_message(where, _reason(exc, where))) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a row's JSON
        raise JournalDamaged(_message(where, f"a row is damaged ({type(exc).__name__})")) from None
    return rows


def _check_columns(path: Path) -> None:
    """Raise ``sqlite3.Error`` when the file's ``entries`` table lacks a journal column (a
    read-only open would otherwise read an empty stand-in table and plan every meeting anew)."""
    db = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30.0)
    try:
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'"
        ).fetchone()
        if found is not None:
            db.execute(f"SELECT {_COLUMNS} FROM main.entries LIMIT 0")
    finally:
        db.close()


def _kind(path: Path) -> str:
    """``missing``, ``file`` or what else is there (a quick stat: fine on the event loop)."""
    if not os.path.lexists(path):
        return "missing"
    if path.is_dir():
        return "a directory"
    return "file" if path.is_file() else "not a regular file"


def _reason(exc: BaseException, path: Path) -> str:
    text = str(exc).removeprefix(f"{path}: ")
    if isinstance(exc, sqlite3.OperationalError):
        return f"not this program's journal format ({text})"
    return text or type(exc).__name__


def _message(path: Path, reason: str) -> str:
    return (
        f"the sync journal {path} cannot be used: {reason}. Nothing was sent. Restore it from "
        "a backup, or move it aside to start over (the next sync then creates every meeting "
        "of the schedule again: cancel the old ones first)"
    )


def prune_refusal(actions: Iterable[Action], rows: dict[str, JournalRow]) -> str | None:
    """Why a prune must be confirmed (``--yes``), or ``None`` when it may go ahead."""
    known = sum(1 for row in rows.values() if row.meeting_id is not None)
    cancels = sum(1 for a in actions if a.kind is ActionKind.CANCEL)
    if known == 0 or cancels * 2 <= known:
        return None
    return (
        f"--prune would cancel {cancels} of the {known} meetings the journal knows (more than "
        "half): check that the schedule file is complete, then run again with --yes"
    )
