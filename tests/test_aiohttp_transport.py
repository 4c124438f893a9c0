"""AiohttpTransport against real local servers on 127.0.0.1 (and a closed port)."""

from __future__ import annotations

import asyncio
import gc
import gzip
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from yzj_meeting import (
    AiohttpTransport,
    ConnectError,
    NetworkError,
    ProtocolError,
    RequestTimeout,
    Timeout,
    TransportError,
)
from yzj_meeting._http import HttpRequest, HttpResponse
from yzj_meeting.transports.base import Transport

ANSWER = '{"success":true,"errorCode":0,"error":null,"data":{"meetingId":"会议-1"}}'.encode()
SHORT = Timeout(total=2.0, connect=1.0, read=1.0)


def post(url: str, body: bytes = b"{}", *, timeout: Timeout | None = None) -> HttpRequest:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return HttpRequest("POST", url, headers, body, "create", timeout)


# --- servers ---


@pytest.fixture
async def web_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An aiohttp.web server: /echo records the request; /big answers 2000 bytes."""
    seen: list[dict[str, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path_qs": request.raw_path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return web.Response(
            status=201,
            body=ANSWER,
            headers={"Content-Type": "application/json", "X-Trace-Id": "T-1", "Retry-After": "3"},
        )

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), body=b"<html>no</html>")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["n"]))

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query["n"]) // 100):
            await response.write(b"y" * 100)
        await response.write_eof()
        return response

    async def gzipped(request: web.Request) -> web.Response:
        # A few hundred bytes on the wire that inflate to n bytes.
        return web.Response(
            body=gzip.compress(b"z" * int(request.query["n"])),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    app = web.Application()
    app.router.add_post("/gzip", gzipped)
    app.router.add_post("/echo", echo)
    app.router.add_post("/status/{code}", status)
    app.router.add_post("/big", big)
    app.router.add_post("/chunked", big_chunked)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", seen
    finally:
        await runner.cleanup()


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


@asynccontextmanager
async def raw_server(behaviour: Behaviour) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that misbehaves as told; stalled handlers end at exit."""
    release = asyncio.Event()
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await behaviour(reader, writer, release)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        release.set()
        server.close()
        await server.wait_closed()
        if handlers:
            await asyncio.wait(handlers, timeout=2)


async def close_at_once(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    writer.close()


async def close_mid_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n"
    )
    writer.write(b'{"success"')
    await writer.drain()
    writer.close()


async def close_mid_headers(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()
    writer.close()


async def never_answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    await release.wait()


async def stall_mid_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
    await writer.drain()
    await release.wait()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the round trip ---


async def test_post_round_trip_exact_bytes_and_headers(
    web_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, seen = web_server
    body = '{"openid":"o","title":"测试会议","startDate":1522729800000}'.encode()
    url = f"{base}/echo?accessToken=tok%2B%2F%3D-1"
    async with AiohttpTransport() as transport:
        assert isinstance(transport, Transport)
        response = await transport.send(post(url, body, timeout=SHORT))
    assert isinstance(response, HttpResponse)
    assert response.status == 201
    assert response.body == ANSWER
    assert response.headers["x-trace-id"] == "T-1"
    assert response.headers["retry-after"] == "3"
    assert all(name == name.lower() for name in response.headers)
    [request] = seen
    assert request["method"] == "POST"
    assert request["path_qs"] == "/echo?accessToken=tok%2B%2F%3D-1"
    assert request["body"] == body
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Accept"] == "application/json"
    assert request["headers"]["Content-Length"] == str(len(body))


async def test_error_statuses_are_answers_not_exceptions(
    web_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = web_server
    async with AiohttpTransport() as transport:
        for code in (401, 429, 500, 503):
            response = await transport.send(post(f"{base}/status/{code}", timeout=SHORT))
            assert response.status == code
            assert response.body == b"<html>no</html>"


async def test_many_concurrent_requests_share_the_pool(
    web_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, seen = web_server
    async with AiohttpTransport(limit=4) as transport:
        answers = await asyncio.gather(
            *(transport.send(post(f"{base}/echo", b"%d" % i, timeout=SHORT)) for i in range(20))
        )
    assert [a.status for a in answers] == [201] * 20
    assert sorted(int(r["body"]) for r in seen) == list(range(20))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed(
    web_server: tuple[str, list[dict[str, Any]]], status: int
) -> None:
    # A redirect must not carry the body (the secret, for a token request) off the base URL.
    elsewhere, seen_elsewhere = web_server

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{elsewhere}/echo"})

    app = web.Application()
    app.router.add_post("/x", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with AiohttpTransport() as transport:
            response = await transport.send(
                post(f"http://{host}:{port}/x?accessToken=t", b'{"secret":"s"}', timeout=SHORT)
            )
    finally:
        await runner.cleanup()
    assert response.status == status
    assert response.headers["location"] == f"{elsewhere}/echo"
    assert seen_elsewhere == []


# --- failures ---


async def test_connection_refused_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/echo?accessToken=t"
    async with AiohttpTransport() as transport:
        with pytest.raises(ConnectError) as info:
            await transport.send(post(url, timeout=SHORT))
    err = info.value
    assert err.may_have_reached_server is False
    assert err.endpoint == "create"
    assert err.__cause__ is None
    assert err.__context__ is None


@pytest.mark.parametrize("behaviour", [close_at_once, close_mid_headers, close_mid_body])
async def test_server_closing_mid_answer_is_a_network_error(behaviour: Behaviour) -> None:
    async with raw_server(behaviour) as base, AiohttpTransport() as transport:
        with pytest.raises(NetworkError) as info:
            await transport.send(post(f"{base}/x?accessToken=t", timeout=SHORT))
    err = info.value
    assert err.may_have_reached_server is True
    assert err.__cause__ is None
    assert err.__context__ is None


@pytest.mark.parametrize(
    "timeout",
    [
        Timeout(total=None, connect=1.0, read=0.05),
        Timeout(total=0.05, connect=None, read=None),
    ],
    ids=["read", "total"],
)
@pytest.mark.parametrize("behaviour", [never_answer, stall_mid_body])
async def test_slow_answer_is_a_request_timeout(timeout: Timeout, behaviour: Behaviour) -> None:
    async with raw_server(behaviour) as base, AiohttpTransport() as transport:
        with pytest.raises(RequestTimeout) as info:
            await transport.send(post(f"{base}/x?accessToken=t", timeout=timeout))
    assert info.value.may_have_reached_server is True
    assert info.value.__context__ is None


async def test_default_timeout_applies_when_the_request_has_none() -> None:
    async with (
        raw_server(never_answer) as base,
        AiohttpTransport(timeout=Timeout(total=0.05)) as transport,
    ):
        with pytest.raises(RequestTimeout):
            await transport.send(post(f"{base}/x"))


@pytest.mark.parametrize("path", ["/big", "/chunked"])
async def test_answer_over_max_body_is_a_protocol_error(
    web_server: tuple[str, list[dict[str, Any]]], path: str
) -> None:
    base, _ = web_server
    async with AiohttpTransport(max_body=1000) as transport:
        with pytest.raises(ProtocolError) as info:
            await transport.send(post(f"{base}{path}?n=2000", timeout=SHORT))
        assert "1000" in str(info.value)
        ok = await transport.send(post(f"{base}{path}?n=1000", timeout=SHORT))
        assert len(ok.body) == 1000
        # the transport is still usable after refusing an answer
        again = await transport.send(post(f"{base}/echo", timeout=SHORT))
        assert again.status == 201


async def test_compressed_answer_inflating_past_max_body_is_a_protocol_error(
    web_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = web_server
    async with AiohttpTransport(max_body=1000) as transport:
        with pytest.raises(ProtocolError):
            await transport.send(post(f"{base}/gzip?n=100000", timeout=SHORT))
        small = await transport.send(post(f"{base}/gzip?n=900", timeout=SHORT))
        assert small.body == b"z" * 900  # decompressed


# --- sessions and closing ---


async def test_a_given_session_is_not_closed(
    web_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = web_server
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session=session)
        assert (await transport.send(post(f"{base}/echo", timeout=SHORT))).status == 201
        await transport.aclose()
        assert not session.closed
        async with session.post(f"{base}/echo", data=b"{}") as response:
            assert response.status == 201


async def test_an_owned_session_is_closed(web_server: tuple[str, list[dict[str, Any]]]) -> None:
    base, _ = web_server
    reports: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reports.append(context))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            transport = AiohttpTransport()
            await transport.send(post(f"{base}/echo", timeout=SHORT))
            await transport.aclose()
            await transport.aclose()  # idempotent
            del transport
            gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert not [w for w in caught if "nclosed" in str(w.message)]
    assert not [r for r in reports if "nclosed" in str(r.get("message"))]


async def test_an_owned_session_closes_its_connections() -> None:
    closed = asyncio.Event()

    async def keep_alive(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, release: asyncio.Event
    ) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.read()  # returns at end of stream: when the client hangs up
        closed.set()

    async with raw_server(keep_alive) as base:
        transport = AiohttpTransport()
        assert (await transport.send(post(f"{base}/x", timeout=SHORT))).body == b"{}"
        assert not closed.is_set()  # pooled, kept alive
        await transport.aclose()
        await asyncio.wait_for(closed.wait(), timeout=2)


async def test_send_after_aclose_is_refused() -> None:
    transport = AiohttpTransport()
    await transport.aclose()
    with pytest.raises(TransportError):
        await transport.send(post("http://127.0.0.1:9/x", timeout=SHORT))
