"""The fake meeting service over HTTP: an aiohttp.web application on 127.0.0.1.

Every path goes to :meth:`FakeService.handle`. A dropped or refused fault closes the
connection without an answer (a TCP server cannot refuse a connection it has accepted, so a
client sees a disconnect in both cases). Access logging is off: the query carries the token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from .service import FakeService

__all__ = ["SERVICE_KEY", "main", "make_app", "running", "serve"]

SERVICE_KEY = web.AppKey("yzj_meeting.fake.service", FakeService)
_MAX_BODY = 16 * 1024 * 1024


async def _handle(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    answer = request.app[SERVICE_KEY].handle(request.method, request.path, request.query, body)
    if answer.delay > 0.0 and not answer.refuse:
        await asyncio.sleep(answer.delay)
    if answer.drop or answer.refuse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing can be written now; aiohttp drops a handler cancelled on a lost connection
        # without writing or logging.
        raise asyncio.CancelledError
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


def make_app(service: FakeService) -> web.Application:
    """An aiohttp application serving ``service`` on every path."""
    app = web.Application(client_max_size=_MAX_BODY)
    app[SERVICE_KEY] = service
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def serve(
    service: FakeService, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Start serving ``service``; returns the runner (``await runner.cleanup()`` stops it) and
    the port bound (``port=0`` picks a free one)."""
    runner = web.AppRunner(make_app(service), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound: int = runner.addresses[0][1]
    return runner, bound


@contextlib.asynccontextmanager
async def running(
    service: FakeService, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``service`` for the duration of the block; yields the base URL."""
    runner, bound = await serve(service, host, port)
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


async def _run(service: FakeService, host: str, port: int) -> None:
    runner, bound = await serve(service, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"yzj_meeting fake service on http://{host}:{bound}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        service.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m yzj_meeting.fake``: serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m yzj_meeting.fake",
        description="Serve an in-memory Yunzhijia meeting service over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    parser.add_argument("--state", metavar="FILE", help="keep the meetings in FILE")
    parser.add_argument(
        "--calls-per-minute",
        type=int,
        default=1500,
        metavar="N",
        help="calls per endpoint per minute before throttling; 0 means no limit (1500)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of ids and tokens")
    args = parser.parse_args(argv)
    service = FakeService(
        calls_per_minute=args.calls_per_minute or None,
        persist_path=args.state,
        seed=args.seed,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(service, args.host, args.port))
