"""The emulator for the chaos test, over HTTP, with a log of who sent what when.

``python tests/workers/chaos_server.py [FAULTS [OPTIONS]]`` (JSON: ``Faults`` fields, other
``FakeService`` arguments such as ``token_ttl``) prints its port, then serves the meeting
service with faults; every request is logged with its arrival time (epoch seconds) and the sender's
``X-Yzj-Sender`` header (target|owner|fence) and a digest of the token involved (the one a call
presents, the one a token request is answered; none when refused). ``GET /_chaos/log`` and
``GET /_chaos/meetings`` answer JSON for the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import sys
import time
from typing import Any

from aiohttp import web

from yzj_meeting.fake import FakeService, Faults

SERVICE = web.AppKey("service", FakeService)
LOG = web.AppKey("log", list)


async def handle(request: web.Request) -> web.StreamResponse:
    arrived = time.time()
    body = await request.read()
    try:
        title = json.loads(body).get("title")
    except (ValueError, AttributeError):
        title = None
    endpoint = request.path.rsplit("/", 1)[-1]
    row = [arrived, request.headers.get("X-Yzj-Sender", ""), endpoint, title, None]
    request.app[LOG].append(row)
    answer = request.app[SERVICE].handle(request.method, request.path, request.query, body)
    # Which token: the one a call presents, or the one a token request was answered (a digest).
    row[4] = _digest(
        answered(answer.body) if endpoint in TOKENS else request.query.get("accessToken")
    )
    if answer.delay > 0.0 and not answer.refuse:
        await asyncio.sleep(answer.delay)
    if answer.drop or answer.refuse:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


TOKENS = {"getAccessToken", "refreshToken"}


def answered(body: bytes) -> str | None:
    """The access token a token answer carries (``None`` when refused)."""
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    token = data.get("accessToken") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def _digest(token: str | None) -> str | None:
    return hashlib.sha256(token.encode()).hexdigest()[:12] if token else None


async def log(request: web.Request) -> web.Response:
    return web.json_response(request.app[LOG])


async def meetings(request: web.Request) -> web.Response:
    found: list[dict[str, Any]] = [
        {"id": m.id, "title": m.title, "status": m.status, "batch": m.batch_id}
        for m in request.app[SERVICE].meetings.values()
    ]
    return web.json_response(found)


async def main() -> None:
    faults = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    service = FakeService(
        **{"calls_per_minute": None, "seed": 11, **options}, faults=Faults(**faults)
    )
    app = web.Application()
    app[SERVICE] = service
    app[LOG] = []
    app.router.add_get("/_chaos/log", log)
    app.router.add_get("/_chaos/meetings", meetings)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
