"""The ``yzj-meeting`` group: one module per command."""

from __future__ import annotations

import click

from .cancel import cancel
from .create import create
from .day import day
from .serve_fake import serve_fake
from .sync import sync

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yzj-meeting", prog_name="yzj-meeting")
def cli() -> None:
    """Yunzhijia (云之家) meetings from the command line.

    Without YZJ_EID / YZJ_SECRET (or --eid / --secret) every command works against an
    embedded emulator kept in the state directory.
    """


for _command in (sync, create, cancel, day, serve_fake):
    cli.add_command(_command)
