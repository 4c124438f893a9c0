"""``yzj-meeting``: sync a schedule file into Yunzhijia, create, cancel and list meetings.

::

    yzj-meeting sync FILE [--dry-run] [--prune] [--concurrency N] [--json] [--state-dir DIR]
    yzj-meeting create --openid OID --title T --start ISO --end ISO [--attendee OID ...]
    yzj-meeting cancel ID --openid OID [--series]
    yzj-meeting day 2026-12-01 [--json]
    yzj-meeting serve-fake [--host 127.0.0.1] [--port 8080] [--state FILE]

Credentials come from ``YZJ_EID``, ``YZJ_SECRET`` and ``YZJ_BASE_URL`` or the ``--eid``,
``--secret`` and ``--base-url`` options. Without any, the command says so on stderr and works
against the embedded emulator, whose meetings are kept in the state directory beside the sync
journal, so successive runs see the same service.

Exit status: 0 when everything succeeded, 1 when some items failed (or the service could not
be used), 2 for bad input or usage. The command needs the ``cli`` extra (click and rich).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import attrs

if TYPE_CHECKING:
    import click

    from .client import MeetingClient
    from .sync.apply import SyncResult
    from .sync.schedule import Problem

__all__ = ["command", "main"]

F = TypeVar("F", bound=Callable[..., Any])

INSTALL_HINT = "yzj-meeting: the command needs click and rich: pip install 'yzj-meeting[cli]'"
DEFAULT_STATE_DIR = ".yzj-meeting"
EMULATOR_BASE_URL = "http://emulator.invalid"
EMULATOR_EID = "emulator"
_MAX_ERRORS_SHOWN = 50


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``yzj-meeting`` console script."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2) from None
    command().main(args=list(argv) if argv is not None else None, prog_name="yzj-meeting")


@attrs.frozen
class _Target:
    """Where the commands send: real credentials, or the embedded emulator."""

    base_url: str
    eid: str
    secret: str = attrs.field(repr=False)
    state_dir: Path
    emulator: bool

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"

    def client(self) -> MeetingClient:
        from .auth import Credentials
        from .client import MeetingClient

        credentials = Credentials(eid=self.eid, secret=self.secret)
        if not self.emulator:
            return MeetingClient(credentials=credentials, base_url=self.base_url)
        from .fake import FakeService, FakeTransport

        self.state_dir.mkdir(parents=True, exist_ok=True)
        service = FakeService(persist_path=self.state_dir / "emulator.json")
        return MeetingClient(
            credentials=credentials, base_url=self.base_url, transport=FakeTransport(service)
        )


@functools.cache
def command() -> click.Group:
    """The click command group (built on first use: click is an optional dependency)."""
    import click
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from .errors import OutcomeUnknownError, ValidationError, YzjError
    from .models import SHANGHAI, QueryByDay, RepeatMeeting
    from .sync import Journal, ScheduleError, parse_entry, target_name
    from .sync.apply import sync as run_sync
    from .sync.plan import Action, ActionKind, count

    def out() -> Console:
        return Console(soft_wrap=False, highlight=False)

    def err() -> Console:
        return Console(stderr=True, soft_wrap=True, highlight=False)

    def say(message: str) -> None:
        click.echo(message, err=True)

    def target_options(fn: F) -> F:
        options = [
            click.option("--eid", envvar="YZJ_EID", help="Workspace eid [env YZJ_EID]."),
            click.option(
                "--secret",
                envvar="YZJ_SECRET",
                help="Resource authorisation secret [env YZJ_SECRET]; prefer the variable.",
            ),
            click.option(
                "--base-url",
                envvar="YZJ_BASE_URL",
                help="Service base URL [env YZJ_BASE_URL; default https://www.yunzhijia.com].",
            ),
            click.option(
                "--state-dir",
                envvar="YZJ_STATE_DIR",
                type=click.Path(file_okay=False, path_type=Path),
                default=Path(DEFAULT_STATE_DIR),
                show_default=True,
                help="Where the sync journal (and the emulator's meetings) are kept.",
            ),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    def resolve(
        eid: str | None, secret: str | None, base_url: str | None, state_dir: Path
    ) -> _Target:
        if not (eid or secret or base_url):
            say(
                "yzj-meeting: no credentials (YZJ_EID, YZJ_SECRET, YZJ_BASE_URL); using the "
                f"embedded emulator, state in {state_dir}{os.sep}"
            )
            return _Target(EMULATOR_BASE_URL, EMULATOR_EID, EMULATOR_EID, state_dir, True)
        if not eid or not secret:
            missing = " and ".join(
                name
                for name, v in (("--eid/YZJ_EID", eid), ("--secret/YZJ_SECRET", secret))
                if not v
            )
            raise click.UsageError(f"credentials are incomplete: give {missing} as well")
        from .auth import DEFAULT_BASE_URL, check_base_url

        try:
            url = check_base_url(base_url or DEFAULT_BASE_URL)
        except ValidationError as exc:
            raise click.BadParameter(exc.message, param_hint="--base-url") from None
        return _Target(url, eid, secret, state_dir, False)

    def fail_input(problems: Sequence[Problem], names: Callable[[Problem], str] | None) -> NoReturn:
        for problem in problems:
            say(f"{names(problem)}: {problem.message}" if names else str(problem))
        n = len(problems)
        say(f"yzj-meeting: {n} problem{'s' if n != 1 else ''}; nothing was sent")
        raise SystemExit(2)

    @contextlib.contextmanager
    def service_errors() -> Iterator[None]:
        try:
            yield
        except OutcomeUnknownError as exc:
            say(
                f"error: {exc.__cause__ or exc}; the meeting may or may not have been created: "
                "look with `yzj-meeting day DATE` before trying again"
            )
            raise SystemExit(1) from None
        except ValidationError as exc:
            say(f"error: {exc}")
            raise SystemExit(2) from None
        except YzjError as exc:
            say(f"error: {exc}")
            raise SystemExit(1) from None
        except OSError as exc:  # the state directory or the journal file
            say(f"error: {exc}")
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            say("interrupted: run the command again to finish (nothing is done twice)")
            raise SystemExit(130) from None

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="yzj-meeting", prog_name="yzj-meeting")
    def cli() -> None:
        """Yunzhijia (云之家) meetings from the command line.

        Without YZJ_EID / YZJ_SECRET (or --eid / --secret) every command works against an
        embedded emulator kept in the state directory.
        """

    # --- sync ---

    @cli.command()
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
    @target_options
    def sync(
        file: Path,
        dry_run: bool,
        prune: bool,
        concurrency: int,
        as_json: bool,
        people: Path | None,
        yes: bool,
        eid: str | None,
        secret: str | None,
        base_url: str | None,
        state_dir: Path,
    ) -> None:
        """Make Yunzhijia hold the meetings of FILE (.json, .jsonl, .csv or .ics).

        Each entry's key is remembered in a journal in the state directory: a later run
        modifies what changed, leaves the rest alone and, with --prune, cancels meetings whose
        key is gone. A run killed at any point can be run again: nothing is created twice.
        """
        entries = _checked_entries(file, people, fail_input)
        target = resolve(eid, secret, base_url, state_dir)
        journal_target = target_name(target.base_url, target.eid)
        if dry_run:
            actions = _guarded_plan(target, journal_target, entries, prune, yes, dry_run, say)
            counts = count(actions)
            if as_json:
                click.echo(json.dumps(counts))
            else:
                show_plan(actions)
                _show_notes(entries, out())
                show_counts(counts, "Would do (dry run)")
            return
        console = err()
        bar = console.is_terminal and not as_json
        with service_errors(), _exclusive(state_dir):
            _guarded_plan(target, journal_target, entries, prune, yes, dry_run, say)
            if bar:
                with Progress(
                    TextColumn("syncing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[failed]} failed"),
                    console=console,
                    transient=True,
                ) as progress:
                    task = progress.add_task("sync", total=None, failed=0)

                    def report(p: Any) -> None:
                        progress.update(task, completed=p.done, total=p.total, failed=p.failed)

                    result = asyncio.run(
                        _synced(target, journal_target, entries, prune, concurrency, report)
                    )
            else:
                result = asyncio.run(
                    _synced(target, journal_target, entries, prune, concurrency, None)
                )
        show_errors(result)
        if as_json:
            click.echo(json.dumps(result.counts()))
        else:
            show_counts(result.counts(), "Sync", kept=result.kept)
        raise SystemExit(0 if result.ok else 1)

    async def _synced(
        target: _Target,
        journal_target: str,
        entries: Any,
        prune: bool,
        concurrency: int,
        report: Callable[[Any], None] | None,
    ) -> SyncResult:
        async with (
            target.client() as client,
            await Journal.open(target.journal_path, journal_target) as journal,
        ):
            return await run_sync(
                client, journal, entries, prune=prune, concurrency=concurrency, on_progress=report
            )

    def show_plan(actions: Sequence[Action]) -> None:
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
        table = Table(title=title, title_justify="left")
        table.add_column("outcome")
        table.add_column("meetings", justify="right")
        for name, value in counts.items():
            table.add_row(name, str(value), style="red" if name == "failed" and value else None)
        if kept:
            table.add_row("kept (not in the schedule; --prune cancels)", str(kept))
        out().print(table)

    def show_errors(result: SyncResult) -> None:
        for error in result.errors[:_MAX_ERRORS_SHOWN]:
            say(f"failed: {error}")
        more = len(result.errors) - _MAX_ERRORS_SHOWN
        if more > 0:
            say(f"... and {more} more failures")

    # --- create ---

    @cli.command()
    @click.option("--openid", required=True, help="Creator's oid.")
    @click.option("--title", required=True)
    @click.option("--start", required=True, help="ISO 8601 with offset: 2026-12-01T09:30+08:00.")
    @click.option("--end", required=True, help="ISO 8601 with offset, after --start.")
    @click.option("--attendee", "attendees", multiple=True, help="Attendee oid (repeatable).")
    @click.option("--content")
    @click.option("--place")
    @click.option("--room-id")
    @click.option("--reminder", type=click.Choice(["-1", "0", "15", "60"]), help="Minutes.")
    @click.option("--important", is_flag=True, default=None, help="Mark as important.")
    @click.option("--type", "meeting_type", type=click.Choice(["sign", "voice"]))
    @click.option("--minutes-required", is_flag=True, default=None)
    @click.option(
        "--repeat",
        type=click.Choice(["none", "workdays", "daily", "weekly", "biweekly", "monthly"]),
    )
    @click.option("--repeat-until", help="Last day a repetition may start (2026-12-31).")
    @click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "ids": [...]}.')
    @target_options
    def create(
        as_json: bool,
        eid: str | None,
        secret: str | None,
        base_url: str | None,
        state_dir: Path,
        **fields: Any,
    ) -> None:
        """Create one meeting (a series with --repeat) and print its id (a series: the parent)."""
        record = {
            "key": "-",
            "openid": fields["openid"],
            "title": fields["title"],
            "start": fields["start"],
            "end": fields["end"],
            "attendees": list(fields["attendees"]) or None,
            "content": fields["content"],
            "place": fields["place"],
            "room_id": fields["room_id"],
            "reminder": fields["reminder"],
            "important": fields["important"],
            "type": fields["meeting_type"],
            "minutes_required": fields["minutes_required"],
            "repeat": fields["repeat"],
            "repeat_until": fields["repeat_until"],
        }
        try:
            entry = parse_entry(record)
        except ScheduleError as exc:
            fail_input(exc.problems, _option_name)
        target = resolve(eid, secret, base_url, state_dir)

        async def run() -> tuple[str, ...]:
            async with target.client() as client:
                if isinstance(entry.model, RepeatMeeting):
                    return tuple((await client.repeat_meeting(entry.model)).meeting_ids)
                return (await client.create_meeting(entry.model),)

        with service_errors():
            ids = asyncio.run(run())
        if as_json:
            click.echo(json.dumps({"id": ids[0], "ids": list(ids)}))
        else:
            click.echo(ids[0])

    # --- cancel ---

    @cli.command()
    @click.argument("meeting_id", metavar="ID")
    @click.option("--openid", required=True, help="Creator's oid (only the creator may cancel).")
    @click.option("--series", is_flag=True, help="Cancel ID and every later occurrence.")
    @click.option("--batch-id", help="With --series: the series' parent id, when ID is not it.")
    @target_options
    def cancel(
        meeting_id: str,
        openid: str,
        series: bool,
        batch_id: str | None,
        eid: str | None,
        secret: str | None,
        base_url: str | None,
        state_dir: Path,
    ) -> None:
        """Cancel meeting ID (with --series: it and the rest of its series)."""
        from .models import BatchCancel, CancelMeeting

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
        target = resolve(eid, secret, base_url, state_dir)

        async def run() -> None:
            async with target.client() as client:
                if isinstance(request, BatchCancel):
                    await client.batch_cancel(request)
                else:
                    await client.cancel_meeting(request)

        with service_errors():
            asyncio.run(run())
        click.echo(f"cancelled {meeting_id}")

    # --- day ---

    @cli.command()
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
        target = resolve(eid, secret, base_url, state_dir)

        async def run() -> list[Any]:
            async with target.client() as client:
                return await client.query_by_day(QueryByDay(when))

        with service_errors():
            meetings = asyncio.run(run())
        if as_json:
            click.echo(
                json.dumps(
                    {"day": when.isoformat(), "meetings": [_meeting_json(m) for m in meetings]},
                    ensure_ascii=False,
                )
            )
            return
        table = Table(title=f"Meetings on {when.isoformat()} (Asia/Shanghai)", title_justify="left")
        for name in ("time", "title", "place", "status", "creator", "id"):
            table.add_column(name)
        for m in meetings:
            start, end = m.start_date.astimezone(SHANGHAI), m.end_date.astimezone(SHANGHAI)
            table.add_row(
                f"{start:%H:%M}–{end:%H:%M}",
                m.title,
                m.meeting_place or "",
                _status(m) or "",
                m.person_name or m.openid or "",
                m.id,
            )
        if meetings:
            out().print(table)
        else:
            out().print(f"No meetings on {when.isoformat()}.")

    # --- serve-fake ---

    @cli.command("serve-fake")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
    @click.option(
        "--state",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Keep the meetings in this JSON file.",
    )
    def serve_fake(host: str, port: int, state: Path | None) -> None:
        """Serve the emulator over HTTP (point YZJ_BASE_URL at it; any eid/secret works)."""
        from .fake.server import main as serve_main

        argv = ["--host", host, "--port", str(port)]
        if state is not None:
            argv += ["--state", os.fspath(state)]
        serve_main(argv)

    return cli


_OPTION_NAMES = {"attendees": "--attendee", "type": "--type", "key": "key"}


def _checked_entries(file: Path, people: Path | None, fail_input: Callable[..., NoReturn]) -> Any:
    """The schedule's entries (people resolved through the map), or exit 2 listing problems."""
    from .sync import ScheduleError, load_schedule
    from .sync.people import load_people

    problems: list[Problem] = []
    people_map = load_people(str(people), problems) if people is not None else None
    if problems:
        fail_input(problems, None)
    try:
        return load_schedule(file, people=people_map)
    except ScheduleError as exc:
        fail_input(exc.problems, None)


def _guarded_plan(
    target: _Target,
    journal_target: str,
    entries: Any,
    prune: bool,
    yes: bool,
    dry_run: bool,
    say: Callable[[str], None],
) -> list[Any]:
    """The plan, after the journal was read whole and a large prune was confirmed (exit 2
    otherwise, nothing sent)."""
    from .sync.guards import JournalDamaged, prune_refusal, read_journal
    from .sync.plan import plan

    try:
        rows = asyncio.run(read_journal(target.journal_path, journal_target))
    except JournalDamaged as exc:
        say(f"yzj-meeting: {exc}")
        raise SystemExit(2) from None
    actions = plan(entries, rows, prune=prune)
    refusal = prune_refusal(actions, rows) if prune and not yes else None
    if refusal is not None:
        say(f"yzj-meeting: {refusal}" + ("" if dry_run else "; nothing was sent"))
        if not dry_run:
            raise SystemExit(2)
    return actions


def _show_notes(entries: Any, console: Any) -> None:
    """Which events were expanded into single meetings, and why (one line per event)."""
    seen: set[tuple[str, int | None]] = set()
    for entry in entries:
        if entry.note and (entry.path, entry.line) not in seen:
            seen.add((entry.path, entry.line))
            event = entry.key.rsplit("#", 1)[0]
            console.print(f"{entry.where}: {event}: {entry.note}", markup=False, highlight=False)


def _option_name(problem: Problem) -> str:
    field = problem.field or ""
    head, bracket, _ = field.partition("[")
    name = _OPTION_NAMES.get(head, "--" + head.replace("_", "-"))
    return name if not bracket else f"{name} {field[len(head) :]}"


_STATUS_NAMES = {0: "open", 1: "done", 2: "cancelled"}


def _status(m: Any) -> str | None:
    """``meetingStatus`` in words (2, "deleted" in the API, is a cancelled meeting)."""
    return _STATUS_NAMES.get(m.meeting_status) if m.meeting_status is not None else None


def _meeting_json(m: Any) -> dict[str, Any]:
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
        "status": _status(m),
        "type": m.type.value if m.type is not None else None,
    }


@contextlib.contextmanager
def _exclusive(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock: two syncs on one journal would fight over its keys."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        yield
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"yzj-meeting: another sync is using {state_dir}{os.sep}; try again later",
                file=sys.stderr,
            )
            raise SystemExit(1) from None
        yield


if __name__ == "__main__":
    main()
