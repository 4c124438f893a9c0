"""``yzj-meeting sync FILE``: make the service hold the meetings of a schedule file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import attrs
import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ..sync import Action, ActionKind, Entry, ScheduleError, SyncResult, Target, load_schedule
from ..sync.guards import JournalDamaged, prune_refusal, read_journal
from ..sync.people import load_people
from ..sync.plan import plan
from ..sync.problems import Problem
from ..sync.target import DEFAULT_CALLS_PER_MINUTE
from ._common import err, fail_input, lock_option, out, resolve, run, say, target_options
from ._progress import SyncMonitor, describe, ticking

__all__ = ["sync"]

MAX_ERRORS_SHOWN = 50
PROGRESS_INTERVAL = 5.0
"""Seconds between two ``--json`` progress lines on stderr."""
BAR_INTERVAL = 0.5
QUOTA_WINDOW = 60.0
"""The quota's window (a minute on the service; tests shorten it)."""


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan; send nothing.")
@click.option("--prune", is_flag=True, help="Cancel meetings whose key left the schedule.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Calls in flight at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of counts.")
@click.option(
    "--people",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV/JSON map of email address -> oid, for mailto: organizers and attendees.",
)
@click.option("--yes", is_flag=True, help="Confirm a prune cancelling over half the meetings.")
@click.option(
    "--calls-per-minute",
    envvar="YZJ_CALLS_PER_MINUTE",
    type=click.IntRange(1),
    default=DEFAULT_CALLS_PER_MINUTE,
    show_default=True,
    help="The service's quota per interface [env YZJ_CALLS_PER_MINUTE]; calls keep under it.",
)
@click.option(
    "--journal",
    "journal_url",
    envvar="YZJ_JOURNAL_URL",
    metavar="URL",
    help="The workers' shared journal (postgresql://..., the workers extra): sync this "
    "tenant there under its lease, as a worker's job does [env YZJ_JOURNAL_URL].",
)
@click.option(
    "--lease-ttl",
    type=click.FloatRange(1.0, 3600.0),
    default=60.0,
    show_default=True,
    help="With --journal: the tenant lease's lifetime (renewed while running; a killed "
    "run's lease lapses after it). --lock-timeout is how long to wait for another holder.",
)
@target_options
@lock_option
def sync(
    file: Path,
    dry_run: bool,
    prune: bool,
    concurrency: int,
    as_json: bool,
    people: Path | None,
    yes: bool,
    calls_per_minute: int,
    journal_url: str | None,
    lease_ttl: float,
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
    lock_timeout: float,
) -> None:
    """Make Yunzhijia hold the meetings of FILE (.json, .jsonl, .csv or .ics).

    Each entry's key is remembered in a journal in the state directory: a later run
    modifies what changed, leaves the rest alone and, with --prune, cancels meetings whose
    key is gone. A run killed at any point can be run again: nothing is created twice.

    On a terminal a bar shows the rate, an ETA that counts the quota, the failures so far
    and "waiting for the quota (N s)" while calls wait for it. With --json, stderr gets the
    same as one JSON object a line every few seconds (and at once when calls start to wait);
    stdout holds only the final counts.
    """
    shared = None
    if journal_url is not None:
        from ._shared import SharedRun

        shared = SharedRun(journal_url, eid, secret, base_url, lease_ttl, lock_timeout)
    entries = checked_entries(file, people)
    if shared is not None:
        from ._shared import sync_shared

        outcome = sync_shared(
            shared,
            entries,
            prune=prune,
            confirmed=yes,
            dry_run=dry_run,
            concurrency=concurrency,
            calls_per_minute=calls_per_minute,
        )
        report(outcome, as_json=as_json, dry_run=dry_run, entries=entries)
        return
    target = resolve(eid, secret, base_url, state_dir, lock_timeout)
    target = attrs.evolve(target, calls_per_minute=calls_per_minute, quota_window=QUOTA_WINDOW)
    guard(target, entries, prune=prune, confirmed=yes, dry_run=dry_run)
    if dry_run:
        planned = run(target.sync(entries, prune=prune, dry_run=True))
        report(planned, as_json=as_json, dry_run=True, entries=entries)
        return
    result = _run_sync(target, entries, prune, concurrency, lines=as_json)
    report(result, as_json=as_json, dry_run=False, entries=entries)


def report(result: SyncResult, *, as_json: bool, dry_run: bool, entries: Sequence[Entry]) -> None:
    """Print the plan (dry run) or the outcome; a sync with failures exits 1."""
    if dry_run:
        if as_json:
            click.echo(json.dumps(result.counts()))
        else:
            show_plan(result.actions or [])
            show_notes(entries)
            show_counts(result.counts(), "Would do (dry run)")
        return
    show_errors(result)
    if as_json:
        click.echo(json.dumps(result.counts()))
    else:
        show_counts(result.counts(), "Sync", kept=result.kept)
    raise SystemExit(0 if result.ok else 1)


def checked_entries(file: Path, people: Path | None) -> list[Entry]:
    """The schedule's entries (people resolved through the map), or exit 2 listing problems."""
    problems: list[Problem] = []
    people_map = load_people(str(people), problems) if people is not None else None
    if problems:
        fail_input(problems, None)
    try:
        return load_schedule(file, people=people_map)
    except ScheduleError as exc:
        fail_input(exc.problems, None)


def guard(
    target: Target, entries: Sequence[Entry], *, prune: bool, confirmed: bool, dry_run: bool
) -> None:
    """Read the journal whole and check a large prune was confirmed, before anything is sent.

    A damaged journal, or an unconfirmed prune of over half the known meetings (unless a dry
    run, which only warns), is one line on stderr and exit 2.
    """
    try:
        rows = run(read_journal(target.journal_path, target.name))
    except JournalDamaged as exc:
        say(f"yzj-meeting: {exc}")
        raise SystemExit(2) from None
    if not prune or confirmed:
        return
    refusal = prune_refusal(plan(entries, rows, prune=prune), rows)
    if refusal is not None:
        say(f"yzj-meeting: {refusal}" + ("" if dry_run else "; nothing was sent"))
        if not dry_run:
            raise SystemExit(2)


def show_notes(entries: Sequence[Entry]) -> None:
    """Which events were expanded into single meetings, and why (one line per event)."""
    seen: set[tuple[str, int | None]] = set()
    console = out()
    for entry in entries:
        if entry.note and (entry.path, entry.line) not in seen:
            seen.add((entry.path, entry.line))
            event = entry.key.rsplit("#", 1)[0]
            console.print(f"{entry.where}: {event}: {entry.note}", markup=False, highlight=False)


def _run_sync(
    target: Target, entries: Sequence[Entry], prune: bool, concurrency: int, *, lines: bool
) -> SyncResult:
    """The sync, showing its progress on stderr: a bar when stderr is a terminal; with
    ``lines`` (``--json``) one JSON object a line every ``PROGRESS_INTERVAL`` seconds, at
    once when calls start waiting for the quota, and a last one when any was printed."""
    console = err()
    bar = not lines and console.is_terminal
    printed = False

    def emit(final: bool = False) -> None:
        nonlocal printed
        printed = True
        say(json.dumps(monitor.snapshot(final=final)))

    monitor = SyncMonitor(
        limit=target.calls_per_minute,
        window=target.quota_window,
        on_wait=emit if lines else None,
    )
    work = target.sync(
        entries,
        prune=prune,
        concurrency=concurrency,
        on_progress=monitor.progress,
        rate_limiter=target.rate_limiter(on_wait=monitor.quota_wait),
    )
    if lines:
        result = run(ticking(work, emit, PROGRESS_INTERVAL))
        if printed:
            emit(final=True)
        return result
    if not bar:
        return run(work)
    with Progress(
        TextColumn("syncing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("sync", total=None, status="")

        def show() -> None:
            snapshot = monitor.snapshot()
            progress.update(
                task, completed=monitor.done, total=monitor.total, status=describe(snapshot)
            )

        return run(ticking(work, show, BAR_INTERVAL))


def show_plan(actions: Sequence[Action]) -> None:
    """The actions that send something, as a table (or a line saying there is none)."""
    table = Table(title="Plan", title_justify="left")
    for name in ("action", "key", "title", "line"):
        table.add_column(name)
    shown = 0
    for action in actions:
        if action.kind is ActionKind.UNCHANGED:
            continue
        entry = action.entry
        line = str(entry.line or "") if entry is not None else "(not in the schedule)"
        table.add_row(str(action.kind), action.key, action.title or "", line)
        shown += 1
    if shown:
        out().print(table)
    else:
        out().print("Nothing to do: every meeting is as the schedule says.")


def show_counts(counts: dict[str, int], title: str, kept: int = 0) -> None:
    """The summary table."""
    table = Table(title=title, title_justify="left")
    table.add_column("outcome")
    table.add_column("meetings", justify="right")
    for name, value in counts.items():
        table.add_row(name, str(value), style="red" if name == "failed" and value else None)
    if kept:
        table.add_row("kept (not in the schedule; --prune cancels)", str(kept))
    out().print(table)


def show_errors(result: SyncResult) -> None:
    """The first failures on stderr, one a line."""
    for error in result.errors[:MAX_ERRORS_SHOWN]:
        say(f"failed: {error}")
    more = len(result.errors) - MAX_ERRORS_SHOWN
    if more > 0:
        say(f"... and {more} more failures")
