"""Where a sync (or a one-off create or cancel) sends: a real service, or the embedded emulator.

::

    target = resolve_target()                  # YZJ_EID, YZJ_SECRET, YZJ_BASE_URL, YZJ_STATE_DIR
    result = await target.sync(entries, prune=True)           # holds the state lock throughout
    preview = await target.sync(entries, dry_run=True)        # sends and writes nothing

A target is identified by ``canonical_base_url(base_url)`` and the eid: every spelling of one
URL (``http://h:80/`` and ``http://h``) shares one set of journal rows. Without credentials the
target is the embedded emulator, whose meetings are kept in the state directory beside the
journal so that successive runs see the same service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .._http import HttpRequest, HttpResponse
from .._urls import canonical_base_url
from ..auth import DEFAULT_BASE_URL, Credentials
from ..bulk import Progress
from ..client import MeetingClient
from ..errors import ValidationError
from ..limits import Limiter, RateLimiter
from .apply import SyncResult, dry_result, plan_sync, sync
from .entry import Entry
from .journal import Journal, target_name
from .lock import DEFAULT_LOCK_TIMEOUT, StateLock

if TYPE_CHECKING:
    from ..fake import FakeTransport

__all__ = [
    "DEFAULT_CALLS_PER_MINUTE",
    "DEFAULT_STATE_DIR",
    "EMULATOR_BASE_URL",
    "EMULATOR_EID",
    "IncompleteCredentials",
    "Target",
    "resolve_target",
]

DEFAULT_STATE_DIR = ".yzj-meeting"
EMULATOR_BASE_URL = "http://emulator.invalid"
EMULATOR_EID = "emulator"
JOURNAL_FILE = "journal.sqlite3"
EMULATOR_FILE = "emulator.sqlite3"
LEGACY_EMULATOR_FILE = "emulator.json"  # a JSON snapshot, before the change log
DEFAULT_CALLS_PER_MINUTE = 1500
"""Yunzhijia's quota: calls per minute per interface."""


class IncompleteCredentials(ValidationError):
    """Some credentials were given, not all: ``missing`` names the ones lacking."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        names = " and ".join(f"{m} (YZJ_{m.upper()})" for m in self.missing)
        super().__init__(self.missing[0], f"credentials are incomplete: give {names} as well")


@attrs.frozen
class Target:
    """A service to send to (``base_url`` canonical, ``eid``, ``secret``) and the state
    directory of its journal; ``emulator`` when it is the embedded emulator."""

    base_url: str
    eid: str
    secret: str = attrs.field(repr=False)
    state_dir: Path
    emulator: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    calls_per_minute: int | None = DEFAULT_CALLS_PER_MINUTE
    """The quota per interface the client keeps to (the emulator enforces it too); ``None``:
    no limit."""
    quota_window: float = 60.0
    """The quota's window in seconds (a minute on the real service)."""

    @property
    def name(self) -> str:
        """The journal's name for this target (``target_name``)."""
        return target_name(self.base_url, self.eid)

    @property
    def journal_path(self) -> Path:
        """The journal file."""
        return self.state_dir / JOURNAL_FILE

    def rate_limiter(
        self, on_wait: Callable[[str, str, float], None] | None = None
    ) -> RateLimiter | None:
        """The client-side quota of this target (``calls_per_minute`` per ``quota_window``;
        ``None`` without one); ``on_wait`` sees each call that must wait for its slot."""
        if self.calls_per_minute is None:
            return None
        return RateLimiter(self.calls_per_minute, self.quota_window, on_wait=on_wait)

    def client(self, rate_limiter: Limiter | None = None) -> MeetingClient:
        """A client for this target (on the emulator: its state loaded from the state dir),
        keeping to ``rate_limiter`` (default: ``self.rate_limiter()``)."""
        credentials = Credentials(eid=self.eid, secret=self.secret)
        limiter = rate_limiter if rate_limiter is not None else self.rate_limiter()
        if not self.emulator:
            return MeetingClient(
                credentials=credentials,
                base_url=self.base_url,
                rate_limiter=limiter,
                calls_per_minute=None,  # the quota is ``limiter``
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path, legacy = self.state_dir / EMULATOR_FILE, self.state_dir / LEGACY_EMULATOR_FILE
        if legacy.is_file() and not path.exists():
            legacy.replace(path)  # the service converts a snapshot found at its path once
        return MeetingClient(
            credentials=credentials,
            base_url=self.base_url,
            transport=_Emulator(path, self.calls_per_minute, self.quota_window),
            rate_limiter=limiter,
            calls_per_minute=None,
        )

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[MeetingClient]:
        """A client for a one-off call; on the emulator, with the state lock held (its file
        is written). A real service's calls touch no local state and take no lock."""
        lock = StateLock(self.state_dir, self.lock_timeout) if self.emulator else None
        if lock is not None:
            await asyncio.to_thread(lock.acquire)
        try:
            async with self.client() as client:
                yield client
        finally:
            if lock is not None:
                lock.release()

    async def open_journal(self) -> Journal:
        """The journal of this target, with the state lock held until it is closed."""
        return await Journal.open(self.journal_path, self.name, lock_timeout=self.lock_timeout)

    async def sync(
        self,
        entries: Sequence[Entry],
        *,
        prune: bool = False,
        concurrency: int = 8,
        on_progress: Callable[[Progress], None] | None = None,
        dry_run: bool = False,
        rate_limiter: Limiter | None = None,
    ) -> SyncResult:
        """``yzj_meeting.sync.sync`` on this target, the state lock held throughout.

        ``dry_run`` reads the journal (if there is one) without the lock and creates, sends
        and writes nothing. ``rate_limiter``: see ``client``.
        """
        if dry_run:
            if not self.journal_path.exists():
                return dry_result(await plan_sync(None, entries, prune=prune))
            async with await Journal.open(self.journal_path, self.name, readonly=True) as j:
                return dry_result(await plan_sync(j, entries, prune=prune))
        async with await self.open_journal() as journal, self.client(rate_limiter) as client:
            return await sync(
                client,
                journal,
                entries,
                prune=prune,
                concurrency=concurrency,
                on_progress=on_progress,
            )


class _Emulator:
    """The embedded emulator as a transport, its meetings loaded on the first request: a sync
    with nothing to send never replays the state file. A file that is not emulator state is
    refused at once (``ValueError``), as loading it would."""

    def __init__(self, path: Path, quota: int | None, window: float) -> None:
        from ..fake.persist import check_file

        check_file(str(path))
        self._path = path
        self._quota = quota
        self._window = window
        self._inner: FakeTransport | None = None
        self._closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` from the emulator (loaded now if it is the first)."""
        if self._inner is None:
            from ..fake import FakeService, FakeTransport

            # No call log: a long sync would keep every request body in memory for nothing.
            service = FakeService(
                persist_path=self._path,
                calls_per_minute=self._quota,
                rate_window=self._window,
                record_calls=False,
            )
            self._inner = FakeTransport(service)
            if self._closed:
                await self._inner.aclose()
        return await self._inner.send(request)

    async def aclose(self) -> None:
        """Close the emulator's transport (if it was ever loaded)."""
        self._closed = True
        if self._inner is not None:
            await self._inner.aclose()


def resolve_target(
    *,
    eid: str | None = None,
    secret: str | None = None,
    base_url: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Target:
    """The target given by the arguments, else ``YZJ_EID``, ``YZJ_SECRET``, ``YZJ_BASE_URL``
    and ``YZJ_STATE_DIR`` (from ``environ``, by default ``os.environ``).

    Without eid, secret or base URL: the embedded emulator. Raises ``IncompleteCredentials``
    when only some credentials are given, ``ValidationError`` naming ``base_url`` for a
    malformed URL.
    """
    env = os.environ if environ is None else environ
    eid = eid or env.get("YZJ_EID") or None
    secret = secret or env.get("YZJ_SECRET") or None
    base_url = base_url or env.get("YZJ_BASE_URL") or None
    directory = Path(state_dir or env.get("YZJ_STATE_DIR") or DEFAULT_STATE_DIR)
    if not (eid or secret or base_url):
        return Target(EMULATOR_BASE_URL, EMULATOR_EID, EMULATOR_EID, directory, True, lock_timeout)
    missing = [name for name, value in (("eid", eid), ("secret", secret)) if not value]
    if missing or eid is None or secret is None:
        raise IncompleteCredentials(missing)
    url = canonical_base_url(base_url or DEFAULT_BASE_URL)
    return Target(url, eid, secret, directory, False, lock_timeout)
