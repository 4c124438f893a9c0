"""Desired-state sync of a schedule file into Yunzhijia, safe to kill and run again.

::

    entries = load_schedule("schedule.json")           # every problem at once, or nothing
    async with await Journal.open(".yzj-meeting/journal.sqlite3", target_name(url, eid)) as j:
        result = await sync(client, j, entries, prune=False, concurrency=8)
    result.counts()   # {"created", "modified", "cancelled", "unchanged", "failed"}

``schedule`` reads and checks the files, ``journal`` keeps the key -> meeting mapping with the
intent of every call recorded before it is sent, ``plan`` decides what to send (pure), and
``apply`` sends it. (The functions ``plan.plan`` and ``apply.apply`` are not re-exported here:
their names are those of their modules.)
"""

from .apply import ItemError, SyncResult, sync
from .journal import Intent, Journal, JournalError, JournalRow, target_name
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

__all__ = [
    "Action",
    "ActionKind",
    "Entry",
    "Intent",
    "ItemError",
    "Journal",
    "JournalError",
    "JournalRow",
    "Problem",
    "ScheduleError",
    "SyncResult",
    "fingerprint",
    "load_schedule",
    "parse_entry",
    "parse_schedule",
    "sync",
    "target_name",
]
