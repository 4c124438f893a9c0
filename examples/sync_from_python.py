"""Sync ``schedule.json`` from Python, as ``yzj-meeting sync`` does: a dry run, then the sync.

Credentials come from YZJ_EID, YZJ_SECRET and YZJ_BASE_URL; without them this runs against the
embedded emulator, kept in the state directory (``.yzj-meeting`` beside where you run it).

    python examples/sync_from_python.py [STATE_DIR]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from yzj_meeting.sync import StateLocked, load_schedule, resolve_target

SCHEDULE = Path(__file__).resolve().parent / "schedule.json"


async def main(state_dir: str) -> int:
    entries = load_schedule(SCHEDULE)  # ScheduleError lists every problem of the file
    target = resolve_target(state_dir=state_dir)
    preview = await target.sync(entries, dry_run=True)  # no lock, nothing sent or written
    print("would do:", preview.counts())
    try:
        result = await target.sync(entries, concurrency=8)  # holds the state lock
    except StateLocked as exc:
        print(exc, file=sys.stderr)
        return 2
    print("done:", result.counts())
    for error in result.errors:
        print("failed:", error, file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else ".yzj-meeting")))
