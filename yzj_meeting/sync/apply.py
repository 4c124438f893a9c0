"""Carry out a sync plan: journal intent -> client call -> journal outcome, for every key.

``sync(client, journal, entries)`` reads the journal, plans, reads the days of every key to
create or in doubt (``adopt.Finder``: before any create, so a lookup never mistakes a meeting
this run is creating for a lost one), resolves the keys in doubt, then sends the rest through
``client.run_many`` with bounded concurrency; a key to create first adopts the live meeting
that exactly is its own, if there is one. A failed key is counted and reported; the others go
on.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import attrs

from .._convert import from_ms
from ..bulk import Outcome, Progress
from ..client import MeetingClient, error_may_have_acted
from ..errors import ValidationError
from ..models import (
    BatchCancel,
    CancelMeeting,
    MeetingStatus,
    QueryByDay,
    RepeatMeeting,
)
from ._trace import observed, observed_run
from .adopt import Finder, adopt, days_to_read, find_in_doubt
from .entry import Entry
from .exclusions import cancel_excluded
from .journal import Intent, JournalRow
from .journal_protocol import SyncJournal
from .plan import Action, ActionKind, count, intent_for, plan, plan_key, stale_fingerprints

__all__ = ["ItemError", "SyncResult", "apply", "dry_result", "plan_sync", "sync"]

COUNTS = ("created", "adopted", "modified", "cancelled", "unchanged", "failed")


@attrs.frozen
class ItemError:
    """Why one key failed: the ``action`` tried and the ``error`` (never a token or secret)."""

    key: str
    action: str
    error: str
    where: str | None = None

    def __str__(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"{self.key}{where}: {self.action} failed: {self.error}"


@attrs.define
class SyncResult:
    """What a sync did: counts per outcome, plus ``kept`` (gone from the schedule, not pruned)
    and one ``ItemError`` per failed key. ``adopted``: keys found already on the service
    (exactly as desired) and mapped instead of created."""

    created: int = 0
    adopted: int = 0
    modified: int = 0
    cancelled: int = 0
    unchanged: int = 0
    failed: int = 0
    kept: int = 0
    errors: list[ItemError] = attrs.Factory(list)
    actions: list[Action] | None = None
    """The plan, for a dry run (``sync(..., dry_run=True)``); ``None`` after a real sync."""

    def counts(self) -> dict[str, int]:
        """``{"created", "adopted", "modified", "cancelled", "unchanged", "failed"}``."""
        return {name: getattr(self, name) for name in COUNTS}

    @property
    def ok(self) -> bool:
        """Whether nothing failed."""
        return self.failed == 0


async def sync(
    client: MeetingClient,
    journal: SyncJournal,
    entries: Sequence[Entry],
    *,
    prune: bool = False,
    concurrency: int = 8,
    on_progress: Callable[[Progress], None] | None = None,
    dry_run: bool = False,
) -> SyncResult:
    """Make the service hold what ``entries`` say; returns what was done.

    With ``dry_run`` nothing is sent nor written: the result counts what a sync would do
    (``counts()``, ``kept``) and carries the plan in ``actions``.
    """
    actions = await plan_sync(journal, entries, prune=prune)
    if dry_run:
        return dry_result(actions)
    return await apply(
        client, journal, actions, prune=prune, concurrency=concurrency, on_progress=on_progress
    )


async def plan_sync(
    journal: SyncJournal | None, entries: Sequence[Entry], *, prune: bool = False
) -> list[Action]:
    """What a sync of ``entries`` would do, one ``Action`` per key: nothing sent or written.

    ``journal=None`` plans against an empty journal (a first run).
    """
    return plan(entries, await journal.rows() if journal is not None else {}, prune=prune)


def dry_result(actions: Sequence[Action]) -> SyncResult:
    """The result a sync carrying out ``actions`` would most likely have, with the plan."""
    result = SyncResult(actions=list(actions))
    for name, value in count(actions).items():
        setattr(result, name, value)
    result.kept = sum(1 for a in actions if a.kind is ActionKind.KEEP)
    return result


@observed
async def apply(
    client: MeetingClient,
    journal: SyncJournal,
    actions: Iterable[Action],
    *,
    prune: bool = False,
    concurrency: int = 8,
    on_progress: Callable[[Progress], None] | None = None,
) -> SyncResult:
    """Carry out ``actions`` (from ``plan``) against ``client``, journaling each call."""
    if concurrency < 1:
        raise ValidationError("concurrency", "must be >= 1")
    actions = list(actions)
    # Rows of an older version's fingerprint that match: rewritten at once, in one transaction.
    await journal.refresh_fingerprints(stale_fingerprints(actions))
    runner = _Runner(client, journal, prune, await journal.mapped_ids(), concurrency)
    run = observed_run(client, runner.run)  # a span per key when traced
    result = SyncResult()
    lookups: list[Action] = []
    work: list[Action] = []
    for action in actions:
        if action.kind is ActionKind.UNCHANGED:
            if action.entry is not None:
                result.unchanged += 1
        elif action.kind is ActionKind.KEEP:
            result.kept += 1
        elif action.kind is ActionKind.RECONCILE:
            lookups.append(action)
        else:
            work.append(action)

    total = len(lookups) + len(work)
    done = failed = 0
    if on_progress is not None:
        on_progress(Progress(0, 0, total))  # the total is known before the first call
    # Every day an adoption may look at is read before anything is created (see adopt.py).
    await runner.finder.prefetch(days_to_read(actions))

    def landed(outcome: Outcome[Any, Any]) -> None:
        nonlocal done, failed
        done += 1
        assert outcome.item is not None  # on_outcome sees every item
        action: Action = outcome.item.action
        if outcome.error is not None:
            failed += 1
            result.failed += 1
            error = outcome.error
            result.errors.append(
                ItemError(
                    action.key,
                    str(action.kind),
                    f"{type(error).__name__}: {error}",
                    action.entry.where if action.entry is not None else None,
                )
            )
        elif outcome.result == "kept":
            result.kept += 1
        elif outcome.result is not None:
            setattr(result, outcome.result, getattr(result, outcome.result) + 1)
        if on_progress is not None:
            on_progress(Progress(done, failed, total))

    for phase in (lookups, work):
        if phase:
            await client.run_many(
                [_Item(action, run) for action in phase],
                concurrency=concurrency,
                on_outcome=landed,
                collect=False,  # every outcome is handled in ``landed``
            )
    return result


@attrs.frozen
class _Item:
    """A zero-argument async callable for ``run_many`` that remembers its action."""

    action: Action
    run: Callable[[Action], Coroutine[Any, Any, str | None]]

    async def __call__(self) -> str | None:
        return await self.run(self.action)


class _Runner:
    def __init__(
        self,
        client: MeetingClient,
        journal: SyncJournal,
        prune: bool,
        mapped: set[str],
        concurrency: int = 8,
    ):
        self.client = client
        self.journal = journal
        self.prune = prune
        self.mapped = mapped  # ids some key maps: never adopted by a lookup
        self.finder = Finder(client, mapped, concurrency)

    async def run(self, action: Action) -> str | None:
        """Carry out one action; the name of the count it lands in (``None``: none)."""
        kind = action.kind
        if kind is ActionKind.RECONCILE:
            return await self._reconcile(action)
        if kind is ActionKind.CREATE:
            assert action.entry is not None
            if await adopt(self.finder, self.journal, action.key, action.entry):
                return "adopted"
            await self._create(action.key, action.entry)
            return "created"
        if kind is ActionKind.MODIFY:
            assert action.entry is not None
            assert action.request is not None
            await self._modify(action.key, action.entry, action.request)
            return "modified"
        if kind is ActionKind.CANCEL:
            assert action.cancel is not None
            await self._cancel(action.key, action.cancel)
            return "cancelled"
        if kind is ActionKind.REPLACE:
            assert action.entry is not None
            assert action.cancel is not None
            await self._cancel(action.key, action.cancel)
            await self._create(action.key, action.entry)
            return "modified"
        if kind is ActionKind.EXCLUDE:
            assert action.entry is not None
            await cancel_excluded(self.client, self.journal, action.key, action.entry)
            return "modified"
        if kind is ActionKind.KEEP:
            return "kept"
        return "unchanged" if action.entry is not None else None

    async def _call(self, key: str, intent: Intent, send: Coroutine[Any, Any, Any]) -> Any:
        """Intent committed -> call -> outcome committed (unless the outcome is unknown)."""
        try:
            await self.journal.begin(key, intent)
        except BaseException:
            send.close()
            raise
        try:
            answer = await send
        except BaseException as exc:
            if not error_may_have_acted(exc):
                await self.journal.failed(key)
            # Otherwise the call may have been carried out: the intent stays, in doubt.
            raise
        return answer

    async def _create(self, key: str, entry: Entry) -> None:
        model = entry.model
        intent = intent_for("create", entry)
        answer = await self._call(key, intent, self.client.call(model))
        ids: tuple[str, ...] = (
            tuple(answer.meeting_ids) if isinstance(model, RepeatMeeting) else (answer,)
        )
        self.mapped.update(ids)
        await self.journal.succeeded(key, ids)
        if entry.excluded:
            await cancel_excluded(self.client, self.journal, key, entry, ids)

    async def _modify(self, key: str, entry: Entry, request: Any) -> None:
        intent = intent_for("modify", entry)
        await self._call(key, intent, self.client.call(request))
        await self.journal.succeeded(key)
        if entry.excluded:  # a batchModify re-plans the series: check the exclusions again
            await cancel_excluded(self.client, self.journal, key, entry)

    async def _cancel(self, key: str, request: CancelMeeting | BatchCancel) -> None:
        intent = Intent(op="cancel")
        await self._call(key, intent, self.client.call(request))
        await self.journal.succeeded(key)

    async def _reconcile(self, action: Action) -> str | None:
        """Resolve a create or cancel in doubt, then do what the key needs now."""
        key, row, entry = action.key, action.row, action.entry
        assert row is not None
        assert row.intent is not None
        if row.pending == "create":
            # The meeting the lost create sent, recognised exactly (a twin is not it); the
            # claim is one-to-one, so two keys in doubt never take the same meeting.
            found = await find_in_doubt(self.finder, row.intent, entry)
            if found is not None:
                await self.journal.adopt(key, found)
            else:
                await self.journal.forget(key)
            next_action = plan_key(key, entry, await self.journal.get(key), prune=self.prune)
            if found is not None and next_action.kind is ActionKind.UNCHANGED:
                return "created"  # the lost create did happen, and is what the entry says
            return await self.run(next_action)
        # A cancel in doubt: only a meeting seen cancelled is gone (an unseen one is kept: a
        # failing modify later is better than a duplicate).
        if await self._seen_cancelled(row):
            await self.journal.forget(key)
            if entry is None:
                return "cancelled"
        else:
            await self.journal.resume(key)
        return await self.run(plan_key(key, entry, await self.journal.get(key), prune=self.prune))

    async def _seen_cancelled(self, row: JournalRow) -> bool:
        for start in row.starts:
            for info in await self.client.query_by_day(QueryByDay(from_ms(start))):
                if info.id == row.meeting_id:
                    return info.meeting_status is MeetingStatus.DELETED
        return False
