"""``yzj-meeting create``: one meeting, or a series with ``--repeat``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..models import MeetingType, NoticeTime, RepeatMeeting
from ..sync import Problem, ScheduleError, Target, parse_entry
from ..sync.entry import FIELDS, REPEAT_NAMES, Entry
from ._common import fail_input, lock_option, resolve, run, target_options

__all__ = ["create"]

# Schedule fields whose option is not ``--`` + the field name with dashes.
_OPTION_NAMES = {"attendees": "--attendee", "type": "--type", "key": "key"}


@click.command()
@click.option("--openid", required=True, help="Creator's oid.")
@click.option("--title", required=True)
@click.option("--start", required=True, help="ISO 8601 with offset: 2026-12-01T09:30+08:00.")
@click.option("--end", required=True, help="ISO 8601 with offset, after --start.")
@click.option("--attendee", "attendees", multiple=True, help="Attendee oid (repeatable).")
@click.option("--content")
@click.option("--place")
@click.option("--room-id")
@click.option("--reminder", type=click.Choice([str(n.value) for n in NoticeTime]), help="Minutes.")
@click.option("--important", is_flag=True, default=None, help="Mark as important.")
@click.option("--type", "meeting_type", type=click.Choice([t.value for t in MeetingType]))
@click.option("--minutes-required", is_flag=True, default=None)
@click.option("--repeat", type=click.Choice(list(REPEAT_NAMES)))
@click.option("--repeat-until", help="Last day a repetition may start (2026-12-31).")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "ids": [...]}.')
@target_options
@lock_option
def create(
    as_json: bool,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
    lock_timeout: float,
    **fields: Any,
) -> None:
    """Create one meeting (a series with --repeat) and print its id (a series: the parent)."""
    record = {name: fields.get(name) for name in FIELDS}
    record.update(key="-", attendees=list(fields["attendees"]) or None)
    record["type"] = fields["meeting_type"]
    try:
        entry = parse_entry(record)
    except ScheduleError as exc:
        fail_input(exc.problems, option_name)
    ids = run(_create(resolve(eid, secret, base_url, state_dir, lock_timeout), entry))
    if as_json:
        click.echo(json.dumps({"id": ids[0], "ids": list(ids)}))
    else:
        click.echo(ids[0])


async def _create(target: Target, entry: Entry) -> tuple[str, ...]:
    async with target.session() as client:
        if isinstance(entry.model, RepeatMeeting):
            return tuple((await client.repeat_meeting(entry.model)).meeting_ids)
        return (await client.create_meeting(entry.model),)


def option_name(problem: Problem) -> str:
    """The option a problem is about (``--start``, ``--attendee [2]``)."""
    field = problem.field or ""
    head, bracket, _ = field.partition("[")
    name = _OPTION_NAMES.get(head, "--" + head.replace("_", "-"))
    return name if not bracket else f"{name} {field[len(head) :]}"
