"""``yzj-meeting show ID`` (one meeting in detail) and ``yzj-meeting range START END``."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from ..details import GetMeeting, MeetingDetail, QueryByRange
from ..models import SHANGHAI, MeetingInfo
from ..sync import Target
from ._common import out, resolve, run, target_options
from .day import _table, meeting_json

__all__ = ["instant", "range_", "show"]


@click.command()
@click.argument("meeting_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@target_options
def show(
    meeting_id: str,
    as_json: bool,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
) -> None:
    """Show one meeting with its participants and their answers."""
    detail = run(_detail(resolve(eid, secret, base_url, state_dir), meeting_id))
    data = detail_json(detail)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for key, value in data.items():
        if key != "participants" and value not in (None, "", []):
            out().print(f"{key}: {value}")
    for p in data["participants"]:
        out().print(f"  participant {p['openid']} ({p['join_status']})")


async def _detail(target: Target, meeting_id: str) -> MeetingDetail:
    async with target.client() as client:
        return await client.get_meeting(GetMeeting(meeting_id))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


def _name(value: Any) -> Any:
    return getattr(value, "name", value).lower() if hasattr(value, "name") else value


def detail_json(d: MeetingDetail) -> dict[str, Any]:
    """One meeting of ``show --json``."""
    return {
        "id": d.id,
        "title": d.title,
        "start": _iso(d.start_date),
        "end": _iso(d.end_date),
        "openid": d.openid,
        "place": d.meeting_place,
        "room_id": d.room_id,
        "content": d.content,
        "notice_times": [int(n) for n in d.notice_times or ()],
        "organizers": [o.openid for o in d.organizers],
        "participants": [
            {"openid": p.openid, "join_status": _name(p.join_status)} for p in d.participants
        ],
        "batch_id": d.batch_id,
        "cancel_time": _iso(d.cancel_time),
        "cancel_reason": d.cancel_reason,
    }


def window(start: str, end: str) -> tuple[datetime, datetime]:
    """START and END as instants (dates: whole days in Asia/Shanghai); END after START."""
    first = instant(start, end=False, hint="START")
    last = instant(end, end=True, hint="END")
    if last <= first:
        raise click.BadParameter("must be after START", param_hint="END")
    return first, last


def instant(text: str, *, end: bool, hint: str) -> datetime:
    """A date (its whole day, Asia/Shanghai) or an ISO datetime with an offset."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if end:
            return datetime.combine(day + timedelta(days=1), time(), SHANGHAI) - timedelta(
                milliseconds=1
            )
        return datetime.combine(day, time(), SHANGHAI)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date like 2026-12-01 or a time like 2026-12-01T09:00+08:00",
            param_hint=hint,
        ) from None
    if when.tzinfo is None:
        raise click.BadParameter(f"naive time {text!r}: add an offset like +08:00", param_hint=hint)
    return when


@click.command("range")
@click.argument("start", metavar="START")
@click.argument("end", metavar="END")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@target_options
def range_(
    start: str,
    end: str,
    as_json: bool,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
) -> None:
    """List the meetings starting between START and END (dates: whole days, Asia/Shanghai)."""
    first, last = window(start, end)
    meetings = run(_range(resolve(eid, secret, base_url, state_dir), first, last))
    if as_json:
        listed = [meeting_json(m) for m in meetings]
        click.echo(
            json.dumps(
                {"start": _iso(first), "end": _iso(last), "meetings": listed}, ensure_ascii=False
            )
        )
    elif meetings:
        out().print(_table(first.date(), meetings, title=f"Meetings from {start} to {end}"))
    else:
        out().print(f"No meetings from {start} to {end}.")


async def _range(target: Target, first: datetime, last: datetime) -> list[MeetingInfo]:
    async with target.client() as client:
        return await client.query_by_range(QueryByRange(first, last))
