"""Persistence of the meetings: an append-only change log in SQLite (WAL), shared by processes.

The file at ``persist_path`` is a SQLite database whose ``changes`` table holds one row per
meeting change: the meeting's whole new state as JSON, under an increasing ``seq``. A write
call runs inside ``BEGIN IMMEDIATE`` (one writer at a time, across processes): first the rows
other processes appended since the last ``seq`` this one saw are applied, then the operation
runs on the caught-up meetings, then its own rows are appended and committed before the
answer leaves. A read call applies new rows first, without the lock. So the cost of a write is
the rows it changes, whatever the number of meetings held, and two services on one file never
lose each other's changes (nor hand out the same id: ids are checked after the catch-up).
Opening a file replays its log. ``save()`` onto the file compacts it to one row per meeting.

The database is created on the first change (a service that changed nothing leaves no file);
a JSON snapshot (``yzj_meeting.fake/1``) found there is converted once. Tokens, calls and
counters are not persisted. ``synchronous=NORMAL``: a change survives the process being
killed; an OS crash may lose the last few.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from .store import MEETING_FIELDS, Meeting, MeetingStore

__all__ = [
    "LOG_FORMAT",
    "SNAPSHOT_FORMAT",
    "ChangeLog",
    "check_file",
    "is_database",
    "read_snapshot",
    "row",
    "write_snapshot",
]

SNAPSHOT_FORMAT: Final = "yzj_meeting.fake/1"
LOG_FORMAT: Final = "yzj_meeting.fake.log/1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT = 60.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS changes"
    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, meeting TEXT NOT NULL)",
)


def row(meeting: Meeting) -> dict[str, Any]:
    """``meeting`` as a JSON-ready dict (its own copies of the lists and dicts)."""
    record = {name: getattr(meeting, name) for name in MEETING_FIELDS}
    for name, value in record.items():
        if isinstance(value, list | dict):
            record[name] = value.copy()
    return record


def _encode(meeting: Meeting) -> str:
    return json.dumps(row(meeting), ensure_ascii=False, separators=(",", ":"))


def read_snapshot(data: Any) -> list[dict[str, Any]]:
    """The meeting records of a snapshot; ``ValueError`` when ``data`` is not one."""
    if not isinstance(data, Mapping) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
    try:
        records = list(data["meetings"])
        for record in records:
            Meeting(**record)  # all fields there, none unknown
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed {SNAPSHOT_FORMAT} snapshot: {error}") from None
    return records


def write_snapshot(path: str, meetings: Iterable[Meeting]) -> None:
    """Write a JSON snapshot of ``meetings`` atomically: temp file, fsync, rename."""
    encoded = ",".join(_encode(m) for m in meetings)
    text = f'{{"format":"{SNAPSHOT_FORMAT}","meetings":[{encoded}]}}'
    _atomic(path, lambda temp: _write_text(temp, text))


def is_database(path: str) -> bool:
    """Whether ``path`` is a SQLite file (else, presumably, a JSON snapshot)."""
    with open(path, "rb") as file:
        head = file.read(len(_SQLITE_MAGIC))
    return head == _SQLITE_MAGIC or head == b""


def check_file(path: str) -> None:
    """Raise ``ValueError`` as ``FakeService(persist_path=path)`` would for a file that is not
    fake state, without loading it (a missing file or a JSON snapshot passes: the service makes
    or converts it)."""
    if os.path.exists(path) and is_database(path):
        _connect(path).close()


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _atomic(path: str, write: Any) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".fake-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise ValueError(f"{path} is not a {SNAPSHOT_FORMAT} snapshot or fake state file")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (LOG_FORMAT,))
        (found,) = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if found != LOG_FORMAT:
            raise ValueError(f"{path} holds fake state of format {found!r}, not {LOG_FORMAT}")
        db.execute("COMMIT")
    except BaseException:
        db.close()
        raise
    return db


class ChangeLog:
    """The change log at ``path``, as one service sees it (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.connection: sqlite3.Connection | None = None
        self._seen = 0

    def open(self, store: MeetingStore) -> None:
        """Load ``path`` into ``store`` if it exists (converting a JSON snapshot once)."""
        if not os.path.exists(self.path):
            return
        if not is_database(self.path):
            with open(self.path, encoding="utf-8") as file:
                try:
                    records = read_snapshot(json.load(file))
                except json.JSONDecodeError:
                    raise ValueError(f"{self.path} is not a {SNAPSHOT_FORMAT} snapshot") from None
            _atomic(self.path, lambda temp: _seed(temp, records))
        self.connection = _connect(self.path)
        self.catch_up(store)

    def catch_up(self, store: MeetingStore) -> None:
        """Apply to ``store`` the rows appended (by any process) since the last one seen."""
        db = self.connection
        if db is None:
            if not os.path.exists(self.path):
                return
            db = self.connection = _connect(self.path)
        rows = db.execute(
            "SELECT seq, meeting FROM changes WHERE seq > ? ORDER BY seq", (self._seen,)
        )
        for seq, encoded in rows:  # row by row: a long log is never all in memory at once
            store.put(json.loads(encoded))
            self._seen = seq

    @contextlib.contextmanager
    def writing(self, store: MeetingStore) -> Iterator[None]:
        """Run a write on caught-up meetings and append the changes it made, atomically."""
        db = self.connection
        if db is None and not os.path.exists(self.path):
            yield  # nothing to catch up with; the file is made by the first change
            changed = store.take_changes()
            if changed:
                db = self.connection = _connect(self.path)
                with self._transaction(db):
                    self.catch_up(store)  # another process may have made the file meanwhile
                    self._append(db, changed)
            return
        if db is None:
            db = self.connection = _connect(self.path)
        with self._transaction(db):
            self.catch_up(store)
            yield
            self._append(db, store.take_changes())

    def compact(self, meetings: Iterable[Meeting]) -> None:
        """Replace the log by one row per meeting (the state of ``meetings``)."""
        db = self.connection
        if db is None:
            db = self.connection = _connect(self.path)
        with self._transaction(db):
            db.execute("DELETE FROM changes")
            self._append(db, meetings)

    def close(self) -> None:
        """Close the database (the last process to close it folds the WAL into it)."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    @contextlib.contextmanager
    def _transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _append(self, db: sqlite3.Connection, meetings: Iterable[Meeting]) -> None:
        for meeting in meetings:
            cursor = db.execute("INSERT INTO changes (meeting) VALUES (?)", (_encode(meeting),))
            assert cursor.lastrowid is not None
            self._seen = cursor.lastrowid


def _seed(path: str, records: list[dict[str, Any]]) -> None:
    """A new log at ``path`` holding ``records`` (the conversion of a JSON snapshot)."""
    db = _connect(path)
    try:
        with contextlib.closing(db.cursor()) as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(
                "INSERT INTO changes (meeting) VALUES (?)",
                [(json.dumps(r, ensure_ascii=False, separators=(",", ":")),) for r in records],
            )
            cursor.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
