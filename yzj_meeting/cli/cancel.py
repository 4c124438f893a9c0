"""``yzj-meeting cancel ID``: cancel a meeting (``--series``: and the rest of its series)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ValidationError
from ..models import BatchCancel, CancelMeeting
from ..sync import Target
from ._common import lock_option, resolve, run, target_options

__all__ = ["cancel"]


@click.command()
@click.argument("meeting_id", metavar="ID")
@click.option("--openid", required=True, help="Creator's oid (only the creator may cancel).")
@click.option("--series", is_flag=True, help="Cancel ID and every later occurrence.")
@click.option("--batch-id", help="With --series: the series' parent id, when ID is not it.")
@target_options
@lock_option
def cancel(
    meeting_id: str,
    openid: str,
    series: bool,
    batch_id: str | None,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
    lock_timeout: float,
) -> None:
    """Cancel meeting ID (with --series: it and the rest of its series)."""
    try:
        request: CancelMeeting | BatchCancel = (
            BatchCancel(id=meeting_id, openid=openid, batch_id=batch_id)
            if series
            else CancelMeeting(id=meeting_id, openid=openid)
        )
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.field) from None
    if batch_id is not None and not series:
        raise click.UsageError("--batch-id goes with --series")
    run(_cancel(resolve(eid, secret, base_url, state_dir, lock_timeout), request))
    click.echo(f"cancelled {meeting_id}")


async def _cancel(target: Target, request: CancelMeeting | BatchCancel) -> None:
    async with target.session() as client:
        if isinstance(request, BatchCancel):
            await client.batch_cancel(request)
        else:
            await client.cancel_meeting(request)
