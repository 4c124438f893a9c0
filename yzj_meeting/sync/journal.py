"""The sync journal: a local SQLite file mapping schedule keys to meetings, crash-safe.

For every key of a target (base URL + eid) it keeps the meeting id (a series: its parent id and
all ids), the fingerprint and the attendees of what was last synced, and at most one *pending
intent*: a call that was about to be sent and whose outcome is not recorded yet.

The rule that makes a sync safe to kill at any instant: the intent is committed before the call
is sent and the outcome after the answer, each atomically (steps of keys in flight at once may
share one transaction; none is ever open across a call). So after a crash a key is in one of
three states, each handled on the next run:

- no intent: the journal is exact;
- intent ``create`` without outcome: the meeting may or may not exist. It is *in doubt*, and
  the sync looks for it (``MeetingClient.find_existing``) before sending anything for the key;
- intent ``modify`` without outcome: the server holds either the old or the new content. The
  fingerprint is then unknown (the next sync modifies again, a full replace) and the attendee
  lists are widened so that the next modify removes whatever may be there and adds whatever
  may be missing;
- intent ``cancel`` without outcome: the sync looks at the meeting before deciding.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the
process being killed (not necessarily a power cut). Every call runs in one dedicated worker
thread that owns the connection, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .._urls import canonical_base_url
from ..errors import ValidationError
from .lock import DEFAULT_LOCK_TIMEOUT, StateLock
from .rows import Intent, JournalRow
from .transitions import JournalError, adopted, begun, failed, resumed, succeeded

__all__ = ["Intent", "Journal", "JournalError", "JournalRow", "canonical_target", "target_name"]

T = TypeVar("T")


_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    target          TEXT NOT NULL,
    key             TEXT NOT NULL,
    series          INTEGER NOT NULL,
    openid          TEXT NOT NULL,
    meeting_type    TEXT,
    meeting_id      TEXT,
    ids             TEXT NOT NULL,
    fingerprint     TEXT,
    attendees       TEXT NOT NULL,
    maybe_attendees TEXT,
    starts          TEXT NOT NULL,
    pending         TEXT,
    intent          TEXT,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (target, key)
) WITHOUT ROWID;
"""
# meeting_id: the single meeting's id or the series' parent id; NULL until the create is known.
# attendees: who is surely invited; maybe_attendees: who may be (after an unconfirmed modify),
#   NULL when the two are the same.
# starts: the start instants (ms) the meeting may have, to find it with queryByDay.


def target_name(base_url: str, eid: str | None) -> str:
    """The namespace of a target: two targets never share journal rows, and every spelling
    of one base URL (``canonical_base_url``) names the same target.

    Raises ``ValidationError`` naming ``base_url`` when it is not an http(s) URL.
    """
    return f"{canonical_base_url(base_url)}#{eid or ''}"


def canonical_target(name: str) -> str:
    """``name`` (``base_url#eid``) with its URL in the canonical spelling; a name that is not
    of that form is returned unchanged."""
    url, sep, eid = name.rpartition("#")
    if not sep:
        return name
    try:
        return f"{canonical_base_url(url)}#{eid}"
    except ValidationError:
        return name


Change = Callable[[JournalRow | None], JournalRow | None]
"""A step on one key's row: the new row from the old (``None``: no row / delete it)."""
_Write = tuple[str, Change, "asyncio.Future[None]"]

_COLUMNS = (
    "key, series, openid, meeting_type, meeting_id, ids, fingerprint, attendees, "
    "maybe_attendees, starts, pending, intent"
)


def _row(values: Sequence[Any]) -> JournalRow:
    (key, series, openid, mtype, mid, ids, fp, att, maybe, starts, pending, intent) = values
    return JournalRow(
        key=key,
        series=bool(series),
        openid=openid,
        meeting_type=mtype,
        meeting_id=mid,
        ids=tuple(json.loads(ids)),
        fingerprint=fp,
        attendees=tuple(json.loads(att)),
        maybe_attendees=tuple(json.loads(maybe)) if maybe is not None else None,
        starts=tuple(json.loads(starts)),
        pending=pending,
        intent=Intent.from_json(intent) if intent is not None else None,
    )


def _dump(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


class Journal:
    """The sync journal of one target in one SQLite file.

    Open it with ``await Journal.open(path, target)`` and close it with ``await aclose()``
    (or ``async with``). Each step is committed before its method returns, in the journal's
    own thread; steps of many keys in flight at once share a transaction (group commit).

    While open, the journal holds its directory's state lock (``StateLock``): a second writer
    waits up to ``lock_timeout`` seconds, then gets ``StateLocked``. ``readonly=True`` (a dry
    run) takes no lock, creates nothing and writes nothing.

    ``target`` is ``target_name(base_url, eid)``; rows written under another spelling of the
    same base URL (an older version's ``http://host:80/``) are moved to it on open.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str,
        *,
        readonly: bool = False,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.path = os.fspath(path)
        self.target = canonical_target(target)
        self.readonly = readonly
        self._targets: tuple[str, ...] = (self.target,)  # read under these names
        self._lock = (
            StateLock(Path(self.path).parent, lock_timeout)
            if lock_timeout is not None and not readonly
            else None
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yzj-journal")
        self._db: sqlite3.Connection | None = None
        self._queue: list[_Write] = []
        self._flusher: asyncio.Future[None] | None = None

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        target: str,
        *,
        readonly: bool = False,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    ) -> Journal:
        """Open the journal file at ``path`` for ``target`` (creating it unless ``readonly``).

        ``lock_timeout=None`` takes no lock (the caller holds it).
        """
        journal = cls(path, target, readonly=readonly, lock_timeout=lock_timeout)
        try:
            await journal._run(journal._connect)
        except BaseException:
            await journal.aclose()
            raise
        return journal

    async def aclose(self) -> None:
        """Close the connection, give the lock back and stop the worker thread."""
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(BaseException):  # each writer got its own outcome
                await self._flusher
        if self._db is not None or (self._lock is not None and self._lock.held):
            await self._run(self._disconnect)
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # --- in the worker thread ---

    def _connect(self) -> None:
        if self.readonly:
            uri = Path(self.path).absolute().as_uri() + "?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        else:
            if self._lock is not None:
                self._lock.acquire()
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            self._prepare(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise JournalError(f"{self.path}: not a usable journal: {exc}") from None
        except BaseException:
            db.close()
            raise
        self._db = db

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal format {version} is not supported by this version"
            )
        if not self.readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        elif version == 0:
            db.executescript(_SCHEMA.replace("CREATE TABLE", "CREATE TEMP TABLE"))
        self._adopt_spellings(db)

    def _adopt_spellings(self, db: sqlite3.Connection) -> None:
        """Find rows stored under other spellings of this target; move them to it (one
        transaction) unless read-only. A key present under both keeps the canonical row and
        the other is left where it was (never deleted)."""
        names = [name for (name,) in db.execute("SELECT DISTINCT target FROM entries")]
        aliases = [n for n in names if n != self.target and canonical_target(n) == self.target]
        if not aliases:
            return
        if self.readonly:
            self._targets = (*aliases, self.target)  # the canonical rows read last, so win
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for alias in aliases:
                db.execute(
                    "UPDATE OR IGNORE entries SET target = ? WHERE target = ?", (self.target, alias)
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.release()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError("the journal is closed")
        return self._db

    def _writable(self) -> sqlite3.Connection:
        if self.readonly:
            raise JournalError("the journal is open read-only")
        return self._conn()

    def _where(self) -> tuple[str, tuple[str, ...]]:
        """The ``WHERE`` clause that selects this target's rows, and its parameters."""
        marks = ", ".join("?" * len(self._targets))
        return f"target IN ({marks})", self._targets

    def _get(self, db: sqlite3.Connection, key: str) -> JournalRow | None:
        found = db.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE target = ? AND key = ?", (self.target, key)
        ).fetchone()
        return _row(found) if found is not None else None

    def _put(self, db: sqlite3.Connection, row: JournalRow) -> None:
        db.execute(
            f"INSERT OR REPLACE INTO entries (target, {_COLUMNS}, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.target,
                row.key,
                int(row.series),
                row.openid,
                row.meeting_type,
                row.meeting_id,
                _dump(row.ids),
                row.fingerprint,
                _dump(row.attendees),
                _dump(row.maybe_attendees) if row.maybe_attendees is not None else None,
                _dump(row.starts),
                row.pending,
                row.intent.to_json() if row.intent is not None else None,
                time.time(),
            ),
        )

    def _delete(self, db: sqlite3.Connection, key: str) -> None:
        db.execute("DELETE FROM entries WHERE target = ? AND key = ?", (self.target, key))

    def _change_many(self, batch: Sequence[_Write]) -> list[Exception | None]:
        """Read-modify-write each key of ``batch`` in turn, all in one transaction; a change
        that raises is undone alone (a savepoint) and its error returned in its place."""
        db = self._writable()
        outcomes: list[Exception | None] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for key, change, _ in batch:
                db.execute("SAVEPOINT one")
                try:
                    new = change(self._get(db, key))
                    if new is None:
                        self._delete(db, key)
                    else:
                        self._put(db, new)
                except Exception as exc:
                    db.execute("ROLLBACK TO one")
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
                db.execute("RELEASE one")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return outcomes

    # --- writing: group commit ---

    async def _write(self, key: str, change: Change) -> None:
        """Apply ``change`` to ``key``; returns once it is committed.

        Writes that arrive while a commit is in progress are committed together in the next
        transaction (group commit): with many keys in flight each commit carries many steps,
        yet no caller goes on before its own step is durable, and no transaction is ever
        open across a call to the service.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((key, change, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                outcomes = await self._run(functools.partial(self._change_many, batch))
            except BaseException as exc:
                for _, _, done in batch:
                    if done.done():
                        continue
                    if isinstance(exc, Exception):
                        done.set_exception(exc)
                    else:
                        done.cancel()
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, _, done), error in zip(batch, outcomes, strict=True):
                if done.done():
                    continue  # the caller was cancelled: the step is committed all the same
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    # --- reading ---

    async def rows(self) -> dict[str, JournalRow]:
        """Every key of this target and what the journal knows about it."""

        def read() -> dict[str, JournalRow]:
            where, params = self._where()
            cursor = self._conn().execute(
                f"SELECT {_COLUMNS} FROM entries WHERE {where} ORDER BY key", params
            )
            return {values[0]: _row(values) for values in cursor}

        return await self._run(read)

    async def get(self, key: str) -> JournalRow | None:
        """What the journal knows about ``key``, or ``None``."""
        return await self._run(lambda: self._get(self._conn(), key))

    async def mapped_ids(self) -> set[str]:
        """Every meeting id this target's keys map (so a lookup never adopts one twice)."""

        def read() -> set[str]:
            ids: set[str] = set()
            where, params = self._where()
            for (text,) in self._conn().execute(f"SELECT ids FROM entries WHERE {where}", params):
                ids.update(json.loads(text))
            return ids

        return await self._run(read)

    # --- intents and outcomes ---

    async def refresh_fingerprints(self, changes: Mapping[str, tuple[str, str]]) -> int:
        """Rewrite fingerprints in one transaction: ``{key: (old, new)}``, for keys whose
        recorded ``old`` one (a legacy format) stands for the same meeting as ``new``. A row
        changed since it was read (another fingerprint, or a pending call) is left alone.
        Returns how many rows were rewritten."""

        def write() -> int:
            db = self._writable()
            db.execute("BEGIN IMMEDIATE")
            try:
                done = 0
                for key, (old, new) in changes.items():
                    done += db.execute(
                        "UPDATE entries SET fingerprint = ? WHERE target = ? AND key = ? "
                        "AND fingerprint = ? AND pending IS NULL",
                        (new, self.target, key, old),
                    ).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return done

        return await self._run(write) if changes else 0

    async def begin(self, key: str, intent: Intent) -> None:
        """Record ``intent`` for ``key`` (committed) before its call is sent.

        A create starts a new row; a modify or cancel needs a row with a meeting. An earlier
        unconfirmed modify is folded in first; an in-doubt create or cancel must have been
        resolved (``adopt``/``forget``/``resume``) before.
        """
        await self._write(key, functools.partial(begun, key, intent=intent))

    async def succeeded(self, key: str, ids: Sequence[str] = ()) -> None:
        """Record that the pending call of ``key`` was carried out.

        A create takes the new ``ids`` (a series: all of them, the parent first); a cancel
        removes the key.
        """
        await self._write(key, functools.partial(succeeded, key, ids=ids))

    async def failed(self, key: str) -> None:
        """Record that the pending call of ``key`` provably did nothing (the server refused)."""
        await self._write(key, failed)

    async def adopt(self, key: str, meeting_id: str) -> None:
        """Resolve an in-doubt create: the lost call did create ``meeting_id``.

        For a series that is the parent (the lookup finds the first occurrence only), which is
        all that batchModify and batchCancel need; ``ids`` then holds just the parent.
        """
        await self._write(key, functools.partial(adopted, key, meeting_id=meeting_id))

    async def forget(self, key: str) -> None:
        """Drop ``key``: its create never happened, or its meeting is gone."""
        await self._write(key, lambda row: None)

    async def resume(self, key: str) -> None:
        """Resolve an in-doubt cancel whose meeting is still there: as if never sent."""
        await self._write(key, functools.partial(resumed, key))
