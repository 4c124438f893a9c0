"""The ``yzj-meeting`` group: one module per command, each imported when its command runs."""

from __future__ import annotations

import importlib

import click

__all__ = ["COMMANDS", "cli"]


COMMANDS: dict[str, tuple[str, str, str]] = {
    "cancel": (
        "yzj_meeting.cli.cancel",
        "cancel",
        "Cancel meeting ID (with --series: it and the rest of its series).",
    ),
    "create": (
        "yzj_meeting.cli.create",
        "create",
        "Create one meeting (a series with --repeat) and print its id (a series: the parent).",
    ),
    "day": (
        "yzj_meeting.cli.day",
        "day",
        "List the meetings starting on DATE (YYYY-MM-DD, Asia/Shanghai).",
    ),
    "range": (
        "yzj_meeting.cli.details",
        "range_",
        "List the meetings starting between START and END (dates: whole days, Asia/Shanghai).",
    ),
    "rooms": ("yzj_meeting.cli.rooms", "rooms", "Meeting rooms (room booking)."),
    "serve-fake": (
        "yzj_meeting.cli.serve_fake",
        "serve_fake",
        "Serve the emulator over HTTP (point YZJ_BASE_URL at it; any eid/secret works).",
    ),
    "show": (
        "yzj_meeting.cli.details",
        "show",
        "Show one meeting with its participants and their answers.",
    ),
    "sync": (
        "yzj_meeting.cli.sync",
        "sync",
        "Make Yunzhijia hold the meetings of FILE (.json, .jsonl, .csv or .ics).",
    ),
    # The ``workers`` extra (procrastinate and psycopg cost ~250 ms to import).
    "enqueue": (
        "yzj_meeting.workers.cli",
        "",
        "Enqueue a sync of tenant EID to FILE (kept once while a job waits).",
    ),
    "journal": ("yzj_meeting.workers.cli", "", "The shared journal's schema."),
    "status": (
        "yzj_meeting.workers.cli",
        "",
        "Per tenant: last run, counts, failures, keys in doubt.",
    ),
    "worker": ("yzj_meeting.workers.cli", "", "Run sync jobs until interrupted."),
}
"""name -> (module, attribute, first paragraph of its help): the attribute is the click command;
an empty attribute means the command of that name in the module's ``group()``."""


class _Group(click.Group):
    """Commands are imported when named, never to list them: ``--help`` shows each one's first
    paragraph from ``COMMANDS`` (a test checks it against the command's own help), so it
    imports neither the SDK, the sync engine, rich, nor procrastinate."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute, _ = COMMANDS[cmd_name]
        if not attribute:
            try:
                from ..workers.cli import group
            except ImportError:
                return _needs_workers(cmd_name)
            command: click.Command | None = group().commands.get(cmd_name)
            return command
        loaded: click.Command = getattr(importlib.import_module(module), attribute)
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = [(name, _listed(name)) for name in self.list_commands(ctx)]
        rows = [(name, command) for name, command in listed if command is not None]
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, command.get_short_help_str(limit)) for name, command in rows]
            )


def _listed(name: str) -> click.Command | None:
    """What ``--help`` lists for ``name``: a stand-in carrying its help, nothing imported."""
    spec = COMMANDS.get(name)
    if spec is None:
        return cli.commands.get(name)
    return click.Command(name, help=spec[2])


def _needs_workers(name: str) -> click.Command:
    def run() -> None:
        raise click.UsageError(
            f"'{name}' needs the workers extra: pip install 'yzj-meeting[workers]'"
        )

    return click.Command(name, callback=run, help="(needs the workers extra)")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yzj-meeting", prog_name="yzj-meeting")
def cli() -> None:
    """Yunzhijia (云之家) meetings from the command line.

    Without YZJ_EID / YZJ_SECRET (or --eid / --secret) every command works against an
    embedded emulator kept in the state directory.
    """
