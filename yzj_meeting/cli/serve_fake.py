"""``yzj-meeting serve-fake``: the emulator over HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["serve_fake"]


@click.command("serve-fake")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the meetings in this JSON file.",
)
def serve_fake(host: str, port: int, state: Path | None) -> None:
    """Serve the emulator over HTTP (point YZJ_BASE_URL at it; any eid/secret works)."""
    from ..fake.server import main as serve_main

    argv = ["--host", host, "--port", str(port)]
    if state is not None:
        argv += ["--state", os.fspath(state)]
    serve_main(argv)
