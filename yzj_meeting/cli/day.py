"""``yzj-meeting day DATE``: the meetings starting on a day (Asia/Shanghai)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..models import SHANGHAI, MeetingInfo, MeetingStatus, MeetingType, QueryByDay
from ..sync import Target
from ._common import out, resolve, run, target_options

__all__ = ["STATUS_NAMES", "day"]

STATUS_NAMES: dict[MeetingStatus, str] = {s: s.name.lower() for s in MeetingStatus} | {
    MeetingStatus.DELETED: "cancelled"  # "deleted" in the API: a cancelled meeting
}
"""``meetingStatus`` in words."""


@click.command()
@click.argument("day", metavar="DATE")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@target_options
def day(
    day: str,
    as_json: bool,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
) -> None:
    """List the meetings starting on DATE (YYYY-MM-DD, Asia/Shanghai)."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(
            f"{day!r} is not a date like 2026-12-01", param_hint="DATE"
        ) from None
    meetings = run(_query(resolve(eid, secret, base_url, state_dir), when))
    if as_json:
        listed = [meeting_json(m) for m in meetings]
        click.echo(json.dumps({"day": when.isoformat(), "meetings": listed}, ensure_ascii=False))
    elif meetings:
        out().print(_table(when, meetings))
    else:
        out().print(f"No meetings on {when.isoformat()}.")


async def _query(target: Target, when: date) -> list[MeetingInfo]:
    async with target.client() as client:
        return await client.query_by_day(QueryByDay(when))


def _table(when: date, meetings: Sequence[MeetingInfo]) -> Table:
    table = Table(title=f"Meetings on {when.isoformat()} (Asia/Shanghai)", title_justify="left")
    for name in ("time", "title", "place", "status", "creator", "id"):
        table.add_column(name)
    for m in meetings:
        start, end = m.start_date.astimezone(SHANGHAI), m.end_date.astimezone(SHANGHAI)
        table.add_row(
            f"{start:%H:%M}–{end:%H:%M}",
            m.title,
            m.meeting_place or "",
            status_name(m) or "",
            m.person_name or m.openid or "",
            m.id,
        )
    return table


def status_name(m: MeetingInfo) -> str | None:
    """The meeting's status in words, or ``None`` when the service gave none (or a new one)."""
    status = m.meeting_status
    return STATUS_NAMES[status] if isinstance(status, MeetingStatus) else None


def meeting_json(m: MeetingInfo) -> dict[str, Any]:
    """One meeting of ``day --json``."""
    return {
        "id": m.id,
        "title": m.title,
        "start": m.start_date.isoformat(),
        "end": m.end_date.isoformat(),
        "openid": m.openid,
        "person_name": m.person_name,
        "place": m.meeting_place,
        "room_id": m.room_id,
        "content": m.content,
        "status": status_name(m),
        "type": m.type.value if isinstance(m.type, MeetingType) else m.type,
    }
