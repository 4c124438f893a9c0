"""The worker commands under click: ``worker``, ``enqueue``, ``status``, ``journal migrate`` and
``sync --journal postgresql://...`` (``python -m yzj_meeting.workers``, or mounted on
``yzj-meeting``). Exit status: 0 done, 1 something failed, 2 bad input (nothing sent or
enqueued), never a traceback. Needs the ``workers`` and ``cli`` extras.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import click

from ..errors import ValidationError, YzjError
from ..sync.schedule import ScheduleError
from .commands import (
    enqueue,
    format_status,
    journal_migrate,
    run_worker,
    status,
    sync_foreground,
)
from .core import LeaseOptions

__all__ = ["cli", "group", "main"]

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; bad input exits 2, other SDK or database errors exit 1, no traceback."""
    try:
        return asyncio.run(coro)
    except ScheduleError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except ValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except YzjError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except OSError as exc:  # psycopg.OperationalError is not one; handled below
        click.echo(f"error: {type(exc).__name__}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        import psycopg

        if isinstance(exc, psycopg.Error):
            click.echo(f"error: the database: {type(exc).__name__}", err=True)
            raise SystemExit(1) from None
        raise


_database = click.option(
    "--database", envvar="YZJ_DATABASE_URL", required=True, help="postgresql:// URL"
)
_tenants = click.option(
    "--tenants",
    "tenants_file",
    envvar="YZJ_MEETING_TENANTS",
    type=click.Path(dir_okay=False),
    help="tenants file (eid -> secret, base_url); else $YZJ_MEETING_SECRET_<EID>",
)


def _lease_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for name, default in reversed(
        [("lease-ttl", 60.0), ("send-budget", 10.0), ("request-timeout", 20.0)]
    ):
        fn = click.option(f"--{name}", type=float, default=default, show_default=True)(fn)
    return fn


@click.group()
def cli() -> None:
    """Sync many tenants' schedules with workers sharing a PostgreSQL journal."""


@cli.command("worker")
@_database
@click.option("--redis", help="redis:// URL sharing tokens and quota between workers")
@click.option("--concurrency", type=int, default=4, show_default=True)
@_tenants
@_lease_options
def worker_command(
    database: str, redis: str | None, concurrency: int, tenants_file: str | None, **lease: float
) -> None:
    """Run sync jobs until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    options = LeaseOptions(lease["lease_ttl"], lease["send_budget"], lease["request_timeout"])
    _run(
        run_worker(
            database,
            redis=redis,
            concurrency=concurrency,
            tenants_file=tenants_file,
            lease=options,
        )
    )


@cli.command("enqueue")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--eid", required=True)
@_database
def enqueue_command(file: str, eid: str, database: str) -> None:
    """Enqueue a sync of tenant EID to FILE (kept once while a job waits)."""
    job = _run(enqueue(file, eid, database))
    click.echo(f"queued job {job}" if job is not None else f"{eid}: a job is already queued")


@cli.command("status")
@_database
def status_command(database: str) -> None:
    """Per tenant: last run, counts, failures, keys in doubt."""
    click.echo(format_status(_run(status(database))) or "no tenants yet")


@cli.group("journal")
def journal_group() -> None:
    """The shared journal's schema."""


@journal_group.command("migrate")
@_database
def migrate_command(database: str) -> None:
    """Create or upgrade the journal's and the job queue's tables."""
    click.echo(f"journal schema version {_run(journal_migrate(database))}")


@cli.command("sync")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--eid", required=True)
@click.option("--journal", "journal_url", required=True, help="postgresql:// URL")
@click.option("--prune", is_flag=True)
@_tenants
@_lease_options
def sync_command(
    file: str,
    eid: str,
    journal_url: str,
    prune: bool,
    tenants_file: str | None,
    **lease: float,
) -> None:
    """Sync one tenant now, on the shared journal."""
    options = LeaseOptions(lease["lease_ttl"], lease["send_budget"], lease["request_timeout"])
    result = _run(
        sync_foreground(
            file, eid, journal_url, tenants_file=tenants_file, lease=options, prune=prune
        )
    )
    click.echo(" ".join(f"{k}={v}" for k, v in result.counts().items()))
    for error in result.errors[:50]:
        click.echo(f"  {error}", err=True)
    raise SystemExit(0 if result.ok else 1)


def group() -> click.Group:
    """The click group of the worker commands."""
    return cli


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m yzj_meeting.workers``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="yzj-meeting")
