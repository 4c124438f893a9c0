"""The ``yzj-meeting`` group: one module per command."""

from __future__ import annotations

import click

from .cancel import cancel
from .create import create
from .day import day
from .details import range_, show
from .rooms import rooms
from .serve_fake import serve_fake
from .sync import sync

__all__ = ["cli"]


_WORKER_COMMANDS = ("enqueue", "journal", "status", "worker")


class _Group(click.Group):
    """The commands of the ``workers`` extra are loaded when named (procrastinate and psycopg
    cost ~250 ms to import; ``--help`` and the other commands never pay it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted((*super().list_commands(ctx), *_WORKER_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _WORKER_COMMANDS:
            return super().get_command(ctx, cmd_name)
        try:
            from ..workers.cli import group
        except ImportError:
            return _needs_workers(cmd_name)
        command: click.Command | None = group().commands.get(cmd_name)
        return command


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


for _command in (sync, create, cancel, day, show, range_, rooms, serve_fake):
    cli.add_command(_command)
