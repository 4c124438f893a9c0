"""``yzj-meeting rooms free START END --openid OID``: the rooms free in a window."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from ..rooms import FreeRooms, Room
from ..sync import Target
from ._common import out, resolve, run, target_options
from .details import window

__all__ = ["rooms"]


@click.group()
def rooms() -> None:
    """Meeting rooms (room booking)."""


@rooms.command()
@click.argument("start", metavar="START")
@click.argument("end", metavar="END")
@click.option("--openid", required=True, help="The user asking (their workspace's rooms).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@target_options
def free(
    start: str,
    end: str,
    openid: str,
    as_json: bool,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
) -> None:
    """List the rooms free from START to END (ISO times with an offset, or dates)."""
    first, last = window(start, end)
    if not openid.strip():
        raise click.BadParameter("must not be empty", param_hint="--openid")
    found = run(_free(resolve(eid, secret, base_url, state_dir), openid, first, last))
    if as_json:
        listed = [
            {
                "room_id": r.room_id,
                "name": r.room_name,
                "detail": r.room_detail,
                "seats": r.limit_count,
            }
            for r in found
        ]
        click.echo(json.dumps({"rooms": listed}, ensure_ascii=False))
        return
    table = Table(title=f"Rooms free from {start} to {end}", title_justify="left")
    for name in ("room", "name", "seats"):
        table.add_column(name)
    for r in found:
        table.add_row(
            r.room_id, r.room_name or "", "" if r.limit_count is None else str(r.limit_count)
        )
    out().print(table if found else "No free rooms.")


async def _free(target: Target, openid: str, first: datetime, last: datetime) -> list[Room]:
    async with target.client() as client:
        return [room async for room in client.iter_free_rooms(FreeRooms(openid, first, last))]
