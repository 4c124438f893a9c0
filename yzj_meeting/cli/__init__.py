"""``yzj-meeting``: sync a schedule file into Yunzhijia, create, cancel and list meetings.

::

    yzj-meeting sync FILE [--dry-run] [--prune] [--concurrency N] [--json] [--state-dir DIR]
    yzj-meeting sync FILE --journal postgresql://... --eid EID   # on the workers' journal
    yzj-meeting create --openid OID --title T --start ISO --end ISO [--attendee OID ...]
    yzj-meeting cancel ID --openid OID [--series]
    yzj-meeting day 2026-12-01 [--json]
    yzj-meeting serve-fake [--host 127.0.0.1] [--port 8080] [--state FILE]

Credentials come from ``YZJ_EID``, ``YZJ_SECRET`` and ``YZJ_BASE_URL`` or the ``--eid``,
``--secret`` and ``--base-url`` options. Without any, the command says so on stderr and works
against the embedded emulator, whose meetings are kept in the state directory beside the sync
journal, so successive runs see the same service. Commands that write the state directory
(``sync``; ``create`` and ``cancel`` on the emulator) hold its lock, waiting ``--lock-timeout``
seconds for another one to finish.

Exit status: 0 when everything succeeded, 1 when some items failed (or the service could not
be used), 2 for bad input or usage (or the state directory in use). The command needs the
``cli`` extra (click and rich); this module imports neither until the command runs: the
commands themselves are plain click commands in this package's other modules.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

__all__ = ["INSTALL_HINT", "command", "main"]

INSTALL_HINT = "yzj-meeting: the command needs click and rich: pip install 'yzj-meeting[cli]'"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``yzj-meeting`` console script."""
    # Found, not imported: ``--help`` never pays for rich.
    if importlib.util.find_spec("click") is None or importlib.util.find_spec("rich") is None:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2)
    command().main(args=list(argv) if argv is not None else None, prog_name="yzj-meeting")


def command() -> click.Group:
    """The ``yzj-meeting`` click group (importing it needs the ``cli`` extra)."""
    from ._main import cli

    return cli
