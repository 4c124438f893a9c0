"""Desired-state sync of a schedule file into Yunzhijia, safe to kill and run again.

::

    entries = load_schedule("schedule.json")           # every problem at once, or nothing
    async with await Journal.open(".yzj-meeting/journal.sqlite3", target_name(url, eid)) as j:
        result = await sync(client, j, entries, prune=False, concurrency=8)
    result.counts()   # {"created", "modified", "cancelled", "unchanged", "failed"}

    # or, with credentials from YZJ_* (or the embedded emulator) and the state directory:
    result = await resolve_target().sync(entries, dry_run=True)    # sends nothing

``schedule`` reads the files (one module per format in ``formats``, the checks in ``entry``),
``journal`` keeps the key -> meeting mapping with the intent of every call recorded before it
is sent (holding the state directory's ``lock`` while open), ``plan`` decides what to send
(pure), ``apply`` sends it and ``target`` resolves where to. (The functions ``plan.plan`` and
``apply.apply`` are not re-exported here: their names are those of their modules.)
"""

from .apply import ItemError, SyncResult, plan_sync, sync
from .journal import Intent, Journal, JournalError, JournalRow, target_name
from .lock import StateLock, StateLocked
from .plan import Action, ActionKind
from .schedule import (
    Entry,
    Problem,
    ScheduleError,
    fingerprint,
    load_schedule,
    parse_entry,
    parse_schedule,
)
from .target import IncompleteCredentials, Target, resolve_target

__all__ = [
    "Action",
    "ActionKind",
    "Entry",
    "IncompleteCredentials",
    "Intent",
    "ItemError",
    "Journal",
    "JournalError",
    "JournalRow",
    "Problem",
    "ScheduleError",
    "StateLock",
    "StateLocked",
    "SyncResult",
    "Target",
    "fingerprint",
    "load_schedule",
    "parse_entry",
    "parse_schedule",
    "plan_sync",
    "resolve_target",
    "sync",
    "target_name",
]
