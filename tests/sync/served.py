"""The emulator server in a process of its own (127.0.0.1, a free port), with a request log.

``served(folder)`` starts it and yields a ``Served``: its ``url``, the ``state`` file of its
meetings, and ``requests()``: every request it received, one ``METHOD /path`` a line (tokens
included, queries left out: they carry the token).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from yzj_meeting.fake import STATUS_CANCELLED, FakeService

SERVER = """
import asyncio, sys
from yzj_meeting.fake import FakeService
from yzj_meeting.fake.server import serve

async def main(state, log):
    service = FakeService(persist_path=state, calls_per_minute=None, seed=5)
    handle = service.handle
    with open(log, "a", encoding="utf-8") as out:
        def logged(method, path, query, body):
            out.write(f"{method} {path}\\n")
            out.flush()
            return handle(method, path, query, body)
        service.handle = logged
        runner, port = await serve(service, "127.0.0.1", 0)
        print(port, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@attrs.frozen
class Served:
    url: str
    state: Path
    log: Path

    def requests(self) -> list[str]:
        """Every request received so far: ``METHOD /path``."""
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []

    def meeting_requests(self) -> list[str]:
        """The requests other than token calls, as endpoint names (``create``, ``cancel``)."""
        return [r.rsplit("/", 1)[-1] for r in self.requests() if not r.endswith("Token")]

    def meetings(self) -> list[dict[str, Any]]:
        """The meetings the server holds (cancelled ones too)."""
        if not self.state.exists():
            return []
        found: list[dict[str, Any]] = FakeService.load(self.state).snapshot()["meetings"]
        return found

    def live(self) -> list[dict[str, Any]]:
        return [m for m in self.meetings() if m["status"] != STATUS_CANCELLED]


@contextmanager
def served(folder: Path) -> Iterator[Served]:
    """Start the emulator server in its own process; stop it on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "server.py"
    script.write_text(SERVER)
    state, log = folder / "service.sqlite3", folder / "requests.log"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(state), str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())  # printed once listening
        yield Served(f"http://127.0.0.1:{port}", state, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
