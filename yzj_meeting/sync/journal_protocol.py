"""What ``sync``/``apply`` need of a journal, whichever database keeps it.

``Journal`` (SQLite, one machine) and ``PgJournal`` (PostgreSQL, shared by workers) both
implement it; a contract test suite runs the same tests against both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from .journal import Intent, JournalRow

__all__ = ["SyncJournal"]


class SyncJournal(Protocol):
    """The key -> meeting mapping of one target, with one pending intent per key at most.

    Every write is one short transaction, committed before the method returns; an intent is
    recorded with ``begin`` before its call is sent and its outcome after the answer.
    """

    async def rows(self) -> dict[str, JournalRow]:
        """Every key of the target and what the journal knows about it."""
        ...

    async def get(self, key: str) -> JournalRow | None:
        """What the journal knows about ``key``, or ``None``."""
        ...

    async def mapped_ids(self) -> set[str]:
        """Every meeting id the target's keys map."""
        ...

    async def begin(self, key: str, intent: Intent) -> None:
        """Record ``intent`` before its call is sent."""
        ...

    async def succeeded(self, key: str, ids: Sequence[str] = ()) -> None:
        """Record that the pending call was carried out (a create: with its ids)."""
        ...

    async def failed(self, key: str) -> None:
        """Record that the pending call provably did nothing."""
        ...

    async def adopt(self, key: str, meeting_id: str) -> None:
        """Resolve an in-doubt create: it did create ``meeting_id``."""
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key``."""
        ...

    async def resume(self, key: str) -> None:
        """Resolve an in-doubt cancel whose meeting is still there."""
        ...

    async def refresh_fingerprints(self, changes: Mapping[str, tuple[str, str]]) -> int:
        """Rewrite legacy fingerprints ``{key: (old, new)}`` of rows settled on ``old``."""
        ...

    async def aclose(self) -> None:
        """Release the journal's resources."""
        ...
