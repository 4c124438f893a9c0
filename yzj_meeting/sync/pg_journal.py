"""The sync journal on PostgreSQL, shared by workers on many machines, fenced by a tenant lease.

Same rules and interface as the SQLite ``Journal``: an intent is committed before its call is
sent and the outcome after the answer, each in one short transaction (never one held across an
HTTP call). On top of that, a target is written by one holder at a time:

- ``PgJournal.open`` takes the target's *lease* ``(target, owner, fence, expires_at)`` on the
  database clock (the fence grows by one at every take-over) and renews it every ``ttl / 4``;
- every write first checks, in its own transaction, that this owner still holds this fence and
  that the lease has not expired; otherwise nothing is written, ``FencedOut`` is raised and the
  send gate closes (``fence.SendGate``): the worker sends nothing more;
- every intent records its *send deadline* (database now + ``send_budget`` + ``request_timeout``):
  its attempts may start for ``send_budget`` seconds, each lasting at most ``request_timeout``;
- a new holder waits until every pending intent's deadline has passed before it goes on, so a
  paused previous holder can no longer be sending what the new one is about to resolve.

``migrate(url)`` creates or upgrades the tables (versioned, under an advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from .fence import SendGate
from .journal import Intent, JournalError, JournalRow
from .transitions import adopted, begun, failed, resumed, succeeded

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the PostgreSQL journal needs the workers extra: pip install 'yzj-meeting[workers]'"
    ) from exc

__all__ = [
    "SCHEMA_VERSION",
    "FencedOut",
    "LeaseHeld",
    "PgJournal",
    "make_pool",
    "migrate",
    "new_owner",
    "read_rows",
]

log = logging.getLogger("yzj_meeting.sync.pg_journal")

_MIGRATIONS: tuple[str, ...] = (
    # 1: the journal, the leases, the runs and the tenants known to the periodic re-sync.
    """
    CREATE TABLE yzj_journal (
        target          text NOT NULL,
        key             text NOT NULL,
        series          boolean NOT NULL,
        openid          text NOT NULL,
        meeting_type    text,
        meeting_id      text,
        ids             jsonb NOT NULL,
        fingerprint     text,
        attendees       jsonb NOT NULL,
        maybe_attendees jsonb,
        starts          jsonb NOT NULL,
        pending         text,
        intent          jsonb,
        send_deadline   timestamptz,
        updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (target, key)
    );
    CREATE TABLE yzj_leases (
        target     text PRIMARY KEY,
        owner      text NOT NULL,
        fence      bigint NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE yzj_lease_log (
        target      text NOT NULL,
        owner       text NOT NULL,
        fence       bigint NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (target, fence)
    );
    CREATE TABLE yzj_runs (
        id          bigserial PRIMARY KEY,
        target      text NOT NULL,
        eid         text NOT NULL,
        owner       text NOT NULL,
        fence       bigint,
        started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz,
        outcome     text,
        counts      jsonb,
        errors      jsonb
    );
    CREATE INDEX yzj_runs_eid ON yzj_runs (eid, id);
    CREATE TABLE yzj_tenants (
        eid        text PRIMARY KEY,
        schedule   text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = (
    "key, series, openid, meeting_type, meeting_id, ids, fingerprint, attendees, "
    "maybe_attendees, starts, pending, intent"
)
_FENCE_SQL = (
    "SELECT 1 FROM yzj_leases WHERE target = %s AND owner = %s AND fence = %s "
    "AND expires_at > clock_timestamp() FOR SHARE"
)


# Take the lease if free or expired (the fence grows by one) and log who took which fence.
_ACQUIRE_SQL = """
WITH taken AS (
    INSERT INTO yzj_leases AS l (target, owner, fence, expires_at)
    VALUES (%(t)s, %(o)s, 1, clock_timestamp() + make_interval(secs => %(s)s))
    ON CONFLICT (target) DO UPDATE SET owner = EXCLUDED.owner, fence = l.fence + 1,
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= clock_timestamp()
    RETURNING fence
)
INSERT INTO yzj_lease_log (target, owner, fence) SELECT %(t)s, %(o)s, fence FROM taken
RETURNING fence
"""


class FencedOut(JournalError):
    """This worker no longer holds the target's lease: nothing was written or will be sent."""


class LeaseHeld(JournalError):
    """Another worker holds the target's lease and it did not expire in time."""


def new_owner() -> str:
    """A name for a lease holder: host, process and a random part (no secret in it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # An intent acknowledged but lost in a server crash would let its call be sent unrecorded
    # (a duplicate later): commits must be durable whatever the server's default says.
    await conn.execute("SET synchronous_commit TO on")


async def make_pool(url: str, *, max_size: int = 4) -> AsyncConnectionPool:
    """An open connection pool on ``url``: autocommit, durable commits (``synchronous_commit``
    on), each connection checked on checkout."""
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open(wait=True, timeout=30.0)
    return pool


async def migrate(url: str) -> int:
    """Create or upgrade the journal's tables at ``url``; returns the schema version.

    Migrations run in one transaction under an advisory lock, so workers starting together
    migrate once; a database newer than this version is refused.
    """
    connect = psycopg.AsyncConnection.connect(url, autocommit=True)
    async with await connect as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('yzj_meeting.migrate'))")
        await conn.execute("CREATE TABLE IF NOT EXISTS yzj_schema (version int NOT NULL)")
        cur = await conn.execute("SELECT version FROM yzj_schema")
        found = await cur.fetchone()
        version = found[0] if found else 0
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the database holds journal schema {version}; this version knows "
                f"up to {SCHEMA_VERSION}"
            )
        for number in range(version, SCHEMA_VERSION):
            await conn.execute(_MIGRATIONS[number])
        if found is None:
            await conn.execute("INSERT INTO yzj_schema VALUES (%s)", (SCHEMA_VERSION,))
        else:
            await conn.execute("UPDATE yzj_schema SET version = %s", (SCHEMA_VERSION,))
    return SCHEMA_VERSION


async def read_rows(url: str, target: str) -> dict[str, JournalRow]:
    """Every key of ``target`` in the journal at ``url``, read without taking its lease (for a
    plan or a guard: what a holder may be changing meanwhile is not seen)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM yzj_journal WHERE target = %s ORDER BY key", (target,)
        )
        return {values[0]: _row(values) for values in await cur.fetchall()}


def _row(values: Sequence[Any]) -> JournalRow:
    (key, series, openid, mtype, mid, ids, fp, att, maybe, starts, pending, intent) = values
    return JournalRow(
        key=key,
        series=bool(series),
        openid=openid,
        meeting_type=mtype,
        meeting_id=mid,
        ids=tuple(ids),
        fingerprint=fp,
        attendees=tuple(att),
        maybe_attendees=tuple(maybe) if maybe is not None else None,
        starts=tuple(starts),
        pending=pending,
        intent=Intent.from_json(json.dumps(intent)) if intent is not None else None,
    )


@attrs.define
class _Lease:
    target: str
    owner: str
    fence: int = 0


class PgJournal:
    """The journal of one target in PostgreSQL, written only while holding its lease.

    ``await PgJournal.open(url_or_pool, target)`` takes the lease (waiting up to ``wait``
    seconds for a live holder's lease to expire) and waits out the previous holder's send
    deadlines; ``aclose()`` releases the lease. Send through a transport wrapped in
    ``fence.GatedTransport(inner, journal.gate)``.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        target: str,
        *,
        owner: str | None = None,
        ttl: float = 60.0,
        send_budget: float = 10.0,
        request_timeout: float = 30.0,
        owns_pool: bool = False,
    ) -> None:
        if ttl <= 2 * request_timeout:
            raise JournalError("the lease ttl must exceed twice the request timeout")
        self.target = target
        self.ttl = ttl
        self.send_budget = send_budget
        self.request_timeout = request_timeout
        self.gate = SendGate(margin=request_timeout)
        self._pool = pool
        self._owns_pool = owns_pool
        self._lease = _Lease(target, owner or new_owner())
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def owner(self) -> str:
        """Who holds the lease."""
        return self._lease.owner

    @property
    def fence(self) -> int:
        """The fencing number of the lease held (0 before it is taken)."""
        return self._lease.fence

    @classmethod
    async def open(
        cls,
        db: str | AsyncConnectionPool,
        target: str,
        *,
        wait: float = 0.0,
        **options: Any,
    ) -> PgJournal:
        """Take ``target``'s lease and return its journal (see the class docstring)."""
        owns = isinstance(db, str)
        pool = await make_pool(db) if isinstance(db, str) else db
        journal = cls(pool, target, owns_pool=owns, **options)
        try:
            await journal._acquire(wait)
            journal._renewer = asyncio.create_task(journal._renew_forever())
            await journal._wait_out_deadlines()
        except BaseException:
            await journal.aclose()
            raise
        return journal

    async def aclose(self) -> None:
        """Stop renewing, release the lease (if still held) and the pool if it was made here."""
        if self._closed:
            return
        self._closed = True
        if self._renewer is not None:
            # The renewer also stops on ``_closed``: a cancellation can be lost (psycopg_pool
            # hands a connection to a waiting task just as it is cancelled), and waiting on
            # it must not swallow a cancellation of our own.
            self._renewer.cancel()
            await asyncio.wait({self._renewer})
        try:
            if self._lease.fence and self.gate.lost is None:
                self.gate.lose("released")
                with contextlib.suppress(psycopg.Error):
                    async with self._pool.connection() as conn:
                        await conn.execute(
                            "UPDATE yzj_leases SET expires_at = clock_timestamp() "
                            "WHERE target = %s AND owner = %s AND fence = %s "
                            "AND expires_at > clock_timestamp()",
                            (self.target, self._lease.owner, self._lease.fence),
                        )
        finally:
            if self._owns_pool:
                await self._pool.close()

    async def __aenter__(self) -> PgJournal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the lease ---

    async def _acquire(self, wait: float) -> None:
        give_up = time.monotonic() + wait
        while True:
            started = time.monotonic()
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    _ACQUIRE_SQL, {"t": self.target, "o": self._lease.owner, "s": self.ttl}
                )
                taken = await cur.fetchone()
                if taken is None:
                    cur = await conn.execute(
                        "SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 "
                        "FROM yzj_leases WHERE target = %s",
                        (self.target,),
                    )
                    left = await cur.fetchone()
            if taken is not None:
                self._lease.fence = int(taken[0])
                self.gate.label = f"{self.target}|{self._lease.owner}|{self._lease.fence}"
                self.gate.extend(started + self.ttl)
                log.info("lease taken: fence %d", self._lease.fence)
                return
            remaining = max(0.05, float(left[0]) if left else 0.05)
            if time.monotonic() + remaining > give_up:
                raise LeaseHeld(f"{self.target}: another worker holds the lease")
            await asyncio.sleep(remaining + 0.05)

    async def _renew(self) -> None:
        started = time.monotonic()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE yzj_leases SET expires_at = clock_timestamp() + make_interval(secs => %s) "
                "WHERE target = %s AND owner = %s AND fence = %s "
                "AND expires_at > clock_timestamp() RETURNING 1",
                (self.ttl, self.target, self._lease.owner, self._lease.fence),
            )
            renewed = await cur.fetchone()
        if renewed is None:
            self.gate.lose("the lease expired or was taken over")
        else:
            self.gate.extend(started + self.ttl)

    async def _renew_forever(self) -> None:
        while self.gate.lost is None and not self._closed:
            await asyncio.sleep(self.ttl / 4)
            try:
                await self._renew()
            except (psycopg.Error, OSError) as exc:
                # The database is unreachable: the lease runs out locally unless a later
                # renewal succeeds in time; the gate refuses sends once it may have expired.
                log.warning("lease renewal failed: %s", type(exc).__name__)

    async def _wait_out_deadlines(self) -> None:
        """Wait until no pending intent of the target can still be sent by anyone."""
        while True:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT extract(epoch FROM max(send_deadline) - clock_timestamp())::float8 "
                    "FROM yzj_journal WHERE target = %s AND pending IS NOT NULL",
                    (self.target,),
                )
                found = await cur.fetchone()
            left = found[0] if found is not None else None
            if left is None or left <= 0:
                return
            log.info("waiting %.1fs for the previous holder's send deadlines", left)
            await asyncio.sleep(left + 0.05)

    # --- reading ---

    async def rows(self) -> dict[str, JournalRow]:
        """Every key of this target and what the journal knows about it."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM yzj_journal WHERE target = %s ORDER BY key",
                (self.target,),
            )
            return {values[0]: _row(values) for values in await cur.fetchall()}

    async def get(self, key: str) -> JournalRow | None:
        """What the journal knows about ``key``, or ``None``."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM yzj_journal WHERE target = %s AND key = %s",
                (self.target, key),
            )
            found = await cur.fetchone()
        return _row(found) if found is not None else None

    async def mapped_ids(self) -> set[str]:
        """Every meeting id this target's keys map."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT DISTINCT jsonb_array_elements_text(ids) FROM yzj_journal WHERE target = %s",
                (self.target,),
            )
            return {value for (value,) in await cur.fetchall()}

    # --- writing, fenced ---

    async def _change(
        self,
        key: str,
        change: Callable[[JournalRow | None], JournalRow | None],
        *,
        deadline: bool = False,
    ) -> None:
        """Read-modify-write one key in one transaction, if the lease is still held."""
        if self._closed:
            raise JournalError("the journal is closed")
        if self.gate.lost is not None:
            raise FencedOut(f"{self.target}: the lease was lost ({self.gate.lost})")
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                _FENCE_SQL, (self.target, self._lease.owner, self._lease.fence)
            )
            if await cur.fetchone() is None:
                self.gate.lose("a journal write found the fence moved or the lease expired")
                raise FencedOut(f"{self.target}: this worker no longer holds the lease")
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM yzj_journal WHERE target = %s AND key = %s FOR UPDATE",
                (self.target, key),
            )
            found = await cur.fetchone()
            new = change(_row(found) if found is not None else None)
            if new is None:
                await conn.execute(
                    "DELETE FROM yzj_journal WHERE target = %s AND key = %s", (self.target, key)
                )
            else:
                await self._put(conn, new, deadline)

    async def _put(
        self, conn: psycopg.AsyncConnection[Any], row: JournalRow, deadline: bool
    ) -> None:
        budget = self.send_budget + self.request_timeout if deadline and row.pending else None
        await conn.execute(
            f"INSERT INTO yzj_journal (target, {_COLUMNS}, send_deadline, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "clock_timestamp() + make_interval(secs => %s), clock_timestamp()) "
            "ON CONFLICT (target, key) DO UPDATE SET "
            "series = EXCLUDED.series, openid = EXCLUDED.openid, "
            "meeting_type = EXCLUDED.meeting_type, meeting_id = EXCLUDED.meeting_id, "
            "ids = EXCLUDED.ids, fingerprint = EXCLUDED.fingerprint, "
            "attendees = EXCLUDED.attendees, maybe_attendees = EXCLUDED.maybe_attendees, "
            "starts = EXCLUDED.starts, pending = EXCLUDED.pending, intent = EXCLUDED.intent, "
            "send_deadline = EXCLUDED.send_deadline, updated_at = EXCLUDED.updated_at",
            (
                self.target,
                row.key,
                row.series,
                row.openid,
                row.meeting_type,
                row.meeting_id,
                Jsonb(list(row.ids)),
                row.fingerprint,
                Jsonb(list(row.attendees)),
                Jsonb(list(row.maybe_attendees)) if row.maybe_attendees is not None else None,
                Jsonb(list(row.starts)),
                row.pending,
                Jsonb(json.loads(row.intent.to_json())) if row.intent is not None else None,
                budget,
            ),
        )

    async def begin(self, key: str, intent: Intent) -> None:
        """Record ``intent`` (committed, with its send deadline) before its call is sent."""
        started = time.monotonic()
        await self._change(key, lambda row: begun(key, row, intent), deadline=True)
        # Attempts of this call may start for send_budget seconds from before the commit, so
        # each ends before the deadline recorded on the database clock.
        self.gate.send_by(started + self.send_budget)

    async def succeeded(self, key: str, ids: Sequence[str] = ()) -> None:
        """Record that the pending call of ``key`` was carried out."""
        self.gate.send_by(None)
        await self._change(key, lambda row: succeeded(key, row, ids))

    async def failed(self, key: str) -> None:
        """Record that the pending call of ``key`` provably did nothing."""
        self.gate.send_by(None)
        await self._change(key, failed)

    async def adopt(self, key: str, meeting_id: str) -> None:
        """Resolve an in-doubt create: the lost call did create ``meeting_id``."""
        await self._change(key, lambda row: adopted(key, row, meeting_id))

    async def forget(self, key: str) -> None:
        """Drop ``key``: its create never happened, or its meeting is gone."""
        await self._change(key, lambda row: None)

    async def resume(self, key: str) -> None:
        """Resolve an in-doubt cancel whose meeting is still there: as if never sent."""
        await self._change(key, lambda row: resumed(key, row))

    async def refresh_fingerprints(self, changes: Mapping[str, tuple[str, str]]) -> int:
        """Rewrite legacy fingerprints ``{key: (old, new)}`` of rows still settled on ``old``
        (fenced, like every write); returns how many were rewritten."""
        done = 0

        def rewrite(row: JournalRow | None, old: str, new: str) -> JournalRow | None:
            nonlocal done
            if row is None or row.pending is not None or row.fingerprint != old:
                return row
            done += 1
            return attrs.evolve(row, fingerprint=new)

        for key, (old, new) in changes.items():
            await self._change(key, functools.partial(rewrite, old=old, new=new))
        return done
