"""The access token and the secret never appear in a log line, an error, its chain, or a repr.

Every error path that can be provoked runs against a real local HTTP server on 127.0.0.1 that
plays Yunzhijia (or a closed port), through ``MeetingClient`` and ``AiohttpTransport``. Then the
whole exception chain (``__cause__`` and ``__context__``, recursively: ``str``, ``repr``, ``args``
and attribute values of each) and every log record captured at DEBUG are searched for the
distinctive token, refresh token and secret strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from yzj_meeting import (
    AiohttpTransport,
    Attempt,
    AuthError,
    ConnectError,
    Credentials,
    MeetingClient,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    Timeout,
    TokenProvider,
    YzjError,
)
from yzj_meeting._http import HttpRequest

from .support import SECRET, TOKEN_PREFIX, RecordingSleep, a_create, a_query, texts_of

REFRESH_PREFIX = "ReFrEsHtOk-Qw8Vn3"
FORBIDDEN = (SECRET, TOKEN_PREFIX, REFRESH_PREFIX)


class FakeYunzhijia:
    """A raw HTTP/1.1 server: token endpoints issue tokens, meeting endpoints act per ``mode``.

    Modes: ``ok``, ``5xx``, ``malformed`` (a non-JSON body that echoes the token),
    ``echo-in-data`` (a well-formed envelope whose meeting has the token as its start), ``refuse``
    (HTTP 401), ``throttle`` (HTTP 429), ``disconnect``, ``stall``. ``refuse_credentials`` makes
    getAccessToken answer ``success: false``.
    """

    def __init__(self, mode: str = "ok", *, refuse_credentials: bool = False) -> None:
        self.mode = mode
        self.refuse_credentials = refuse_credentials
        self.issued = 0
        self.meeting_targets: list[str] = []
        self.token_bodies: list[bytes] = []
        self.release = asyncio.Event()
        self.handlers: set[asyncio.Task[Any]] = set()

    @staticmethod
    async def respond(
        writer: asyncio.StreamWriter, status: int, body: bytes, extra: str = ""
    ) -> None:
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                target = lines[0].split(" ")[1]
                headers = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                )
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if "/oauth2/token/" in target:
                    self.token_bodies.append(body)
                    if self.refuse_credentials:
                        answer = {"success": False, "errorCode": 1002, "error": "bad secret"}
                        await self.respond(writer, 200, json.dumps(answer).encode())
                        continue
                    self.issued += 1
                    data = {
                        "accessToken": f"{TOKEN_PREFIX}-{self.issued}",
                        "expireIn": 7200,
                        "refreshToken": f"{REFRESH_PREFIX}-{self.issued}",
                    }
                    answer = {"success": True, "errorCode": 0, "error": None, "data": data}
                    await self.respond(writer, 200, json.dumps(answer).encode())
                    continue
                self.meeting_targets.append(target)
                token = target.partition("accessToken=")[2]
                if self.mode == "ok":
                    answer = {"success": True, "errorCode": 0, "error": None, "data": []}
                    await self.respond(writer, 200, json.dumps(answer).encode())
                elif self.mode == "5xx":
                    await self.respond(writer, 503, f"<html>busy {token}</html>".encode())
                elif self.mode == "malformed":
                    await self.respond(writer, 200, f"<html>token={token}</html>".encode())
                elif self.mode == "echo-in-data":
                    item = {"id": "x", "title": "t", "startDate": token, "endDate": 1}
                    answer = {"success": True, "errorCode": 0, "error": None, "data": [item]}
                    await self.respond(writer, 200, json.dumps(answer).encode())
                elif self.mode == "refuse":
                    await self.respond(writer, 401, f"bad token {token}".encode())
                elif self.mode == "throttle":
                    await self.respond(writer, 429, b"slow down", "Retry-After: 3000\r\n")
                elif self.mode == "disconnect":
                    return
                elif self.mode == "stall":
                    await self.release.wait()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            self.release.set()
            server.close()
            await server.wait_closed()
            if self.handlers:
                await asyncio.wait(self.handlers, timeout=2)


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def credentials() -> Credentials:
    return Credentials(eid="17717", secret=SECRET)


def client_for(base_url: str, **kwargs: Any) -> MeetingClient:
    kwargs.setdefault("credentials", credentials())
    return MeetingClient(
        base_url=base_url,
        transport=AiohttpTransport(),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01),
        timeout=Timeout(total=0.3, connect=0.3, read=0.1),
        sleep=RecordingSleep(),
        calls_per_minute=None,
        **kwargs,
    )


def assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in FORBIDDEN:
            assert secret not in text, f"{secret!r} leaked in {text!r}"


def assert_no_leak(error: BaseException, caplog: pytest.LogCaptureFixture, *others: Any) -> None:
    texts = texts_of(error)
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(str(record.msg))
        texts.extend(repr(a) for a in (record.args or ()))
        if record.exc_info and record.exc_info[1] is not None:
            texts.extend(texts_of(record.exc_info[1]))
    texts.extend(caplog.text.splitlines())
    texts.extend(repr(o) for o in others)
    texts.extend(str(o) for o in others)
    assert_clean(texts)


Scenario = Callable[[MeetingClient], Awaitable[Any]]


async def query(client: MeetingClient) -> Any:
    return await client.query_by_day(a_query())


async def create(client: MeetingClient) -> Any:
    return await client.create_meeting(a_create())


# name -> (server mode, what to call, the error expected)
SERVED: dict[str, tuple[str, Scenario, type[YzjError]]] = {
    "disconnect": ("disconnect", query, NetworkError),
    "timeout": ("stall", query, RequestTimeout),
    "5xx": ("5xx", query, ServerError),
    "malformed": ("malformed", query, ProtocolError),
    "token-refused-twice": ("refuse", query, AuthError),
    "throttled": ("throttle", create, RateLimitError),
    "outcome-unknown-disconnect": ("disconnect", create, OutcomeUnknownError),
    "outcome-unknown-5xx": ("5xx", create, OutcomeUnknownError),
    "outcome-unknown-malformed": ("malformed", create, OutcomeUnknownError),
    "outcome-unknown-timeout": ("stall", create, OutcomeUnknownError),
}


@pytest.mark.parametrize("name", list(SERVED))
async def test_no_leak_on_served_failures(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mode, call, expected = SERVED[name]
    attempts: list[Attempt] = []
    server = FakeYunzhijia(mode)
    async with server.serve() as base:
        client = client_for(base, on_attempt=attempts.append)
        try:
            with pytest.raises(expected) as info:
                await call(client)
        finally:
            await client.aclose()
    # The token really travelled, so a leak would have had something to leak.
    assert server.meeting_targets
    assert all(TOKEN_PREFIX in target for target in server.meeting_targets)
    assert server.token_bodies
    assert SECRET.encode() in server.token_bodies[0]
    assert caplog.records  # logging was captured
    assert_no_leak(info.value, caplog, client, client.token_provider, *attempts)
    if isinstance(info.value, OutcomeUnknownError):
        assert info.value.__cause__ is not None
        assert_clean([repr(info.value.request), repr(info.value.model)])


async def test_no_leak_when_an_answer_carries_the_token_in_a_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A meeting whose start is the token: the meeting is dropped (one odd meeting never fails
    # the day) with a WARNING naming the field, never its value.
    caplog.set_level(logging.DEBUG)
    attempts: list[Attempt] = []
    server = FakeYunzhijia("echo-in-data")
    async with server.serve() as base:
        client = client_for(base, on_attempt=attempts.append)
        try:
            day = await query(client)
        finally:
            await client.aclose()
    assert day == []
    assert server.meeting_targets
    assert all(TOKEN_PREFIX in target for target in server.meeting_targets)
    assert any("startDate" in r.getMessage() for r in caplog.records)
    assert_no_leak(Exception(), caplog, client, client.token_provider, day, *attempts)


async def test_no_leak_when_the_meeting_host_refuses_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeYunzhijia("ok")
    async with server.serve() as token_base, AiohttpTransport() as token_transport:
        provider = TokenProvider(credentials(), base_url=token_base, transport=token_transport)
        assert (await provider.token()).startswith(TOKEN_PREFIX)
        client = client_for(closed_port_url(), token_provider=provider, credentials=None)
        try:
            for call in (query, create):
                with pytest.raises(ConnectError) as info:
                    await call(client)
                assert_no_leak(info.value, caplog, client, provider)
        finally:
            await client.aclose()


async def test_no_leak_when_the_token_host_refuses_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(closed_port_url())
    try:
        with pytest.raises(ConnectError) as info:
            await query(client)
    finally:
        await client.aclose()
    assert_no_leak(info.value, caplog, client, client.token_provider)


async def test_no_leak_when_the_credentials_are_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeYunzhijia("ok", refuse_credentials=True)
    async with server.serve() as base:
        client = client_for(base)
        try:
            with pytest.raises(AuthError) as info:
                await create(client)
        finally:
            await client.aclose()
    assert server.token_bodies
    assert not server.meeting_targets
    assert_no_leak(info.value, caplog, client, client.token_provider)


async def test_no_leak_when_the_refresh_is_refused_and_the_secret_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeYunzhijia("refuse")
    async with server.serve() as base:
        client = client_for(base)
        try:
            await client.token_provider.token()
            server.refuse_credentials = True
            with pytest.raises(AuthError) as info:
                await query(client)
        finally:
            await client.aclose()
    assert_no_leak(info.value, caplog, client, client.token_provider)


async def test_successful_calls_log_nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeYunzhijia("ok")
    async with server.serve() as base:
        client = client_for(base)
        try:
            assert await query(client) == []
        finally:
            await client.aclose()
    assert_clean([r.getMessage() for r in caplog.records] + [caplog.text])


def test_request_reprs_hide_the_token_and_body() -> None:
    request = HttpRequest(
        "POST",
        f"https://yzj.test/gateway/oauth2/token/getAccessToken?accessToken={TOKEN_PREFIX}-1",
        {"Content-Type": "application/json"},
        json.dumps({"secret": SECRET}).encode(),
        "getAccessToken",
    )
    assert_clean([repr(request), str(request)])
    assert "getAccessToken" in repr(request)
