"""The emulator as the benchmarks run it: ``yzj_meeting.fake``'s aiohttp app in its own process.

``python -m benchmarks._server --port N [--calls-per-minute N] [--rate-window S]`` serves a
``FakeService`` with ``record_calls`` off (the CLI of ``python -m yzj_meeting.fake`` has no switch
for it, nor for the window) through ``yzj_meeting.fake.server.make_app``, so every request takes
the emulator's own handler. Three control paths, for the benchmark driver only:
``/__bench__/reset`` (a fresh service: no meetings, no tokens), ``/__bench__/stats`` (calls,
throttled answers, token requests) and ``/__bench__/expire`` (every held access token refused
from now on).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Callable, Mapping
from typing import Any

from yzj_meeting.fake import FakeAnswer, FakeService
from yzj_meeting.fake.server import serve

_HEADERS = {"content-type": "application/json"}
_THROTTLED = b'"errorCode":10000429'


class Switch:
    """Stands in for the ``FakeService`` the app serves; counts answers, swaps the service."""

    def __init__(self, make: Callable[[], FakeService]) -> None:
        self._make = make
        self.service = make()
        self.calls = 0
        self.throttled = 0
        self.token_requests = 0

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> FakeAnswer:
        """The emulator's answer, or a control path's."""
        if path.startswith("/__bench__/"):
            return self._control(path.rsplit("/", 1)[1])
        answer = self.service.handle(method, path, query, body)
        self.calls += 1
        if answer.status == 429 or (len(answer.body) < 200 and _THROTTLED in answer.body):
            self.throttled += 1
        return answer

    def _control(self, action: str) -> FakeAnswer:
        if action == "reset":
            self.token_requests += self.service.token_requests
            self.service = self._make()
            self.calls = self.throttled = 0
        elif action == "expire":
            self.service.expire_tokens()
        stats: dict[str, Any] = {
            "calls": self.calls,
            "throttled": self.throttled,
            "token_requests": self.service.token_requests,
            "meetings": len(self.service.meetings),
        }
        return FakeAnswer(200, _HEADERS, json.dumps(stats).encode())


async def _serve(switch: Switch, host: str, port: int) -> None:
    runner, _ = await serve(switch, host, port)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls-per-minute", type=int, default=0, help="0: no limit")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    args = parser.parse_args()

    def make() -> FakeService:
        return FakeService(
            calls_per_minute=args.calls_per_minute or None,
            rate_window=args.rate_window,
            record_calls=False,
            seed=0,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(Switch(make), args.host, args.port))


if __name__ == "__main__":
    main()
