"""FakeTransport and the aiohttp emulator: the same service behind the transport seam."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from yzj_meeting._http import HttpRequest, Timeout
from yzj_meeting.errors import ConnectError, NetworkError, RequestTimeout, TransportError
from yzj_meeting.fake import FakeService, FakeTransport, Faults
from yzj_meeting.fake.server import running, serve
from yzj_meeting.transports.base import Transport

NOW = 1_709_254_800.0  # 2024-03-01 09:00 in Shanghai
BASE = "https://www.yunzhijia.com"
MEETING = {
    "openid": "5a67e08d00b0e8dfe4aab4fa",
    "title": "测试会议",
    "startDate": 1_709_517_600_000,  # 2024-03-04 10:00 in Shanghai
    "endDate": 1_709_521_200_000,
}
ROOT = Path(__file__).resolve().parents[2]


def token_body() -> bytes:
    body = {"eid": "e1", "secret": "s1", "scope": "resGroupSecret", "timestamp": int(NOW * 1000)}
    return json.dumps(body).encode()


def request(path: str, body: Any, token: str | None = None, **extra: Any) -> HttpRequest:
    url = f"{BASE}{path}" + (f"?accessToken={token}" if token else "")
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    endpoint = path.rsplit("/", 1)[-1]
    return HttpRequest(
        "POST", url, {"content-type": "application/json"}, data, endpoint=endpoint, **extra
    )


async def login(transport: FakeTransport) -> str:
    answer = await transport.send(request("/gateway/oauth2/token/getAccessToken", token_body()))
    token: str = json.loads(answer.body)["data"]["accessToken"]
    return token


def create(token: str, **extra: Any) -> HttpRequest:
    return request("/gateway/cloudwork/meeting/create", MEETING, token, **extra)


def assert_no_secret(error: BaseException, token: str) -> None:
    for text in (str(error), repr(error), repr(error.args)):
        assert token not in text
        assert "accessToken" not in text
        assert "yunzhijia.com" not in text
    assert error.__cause__ is None
    assert error.__context__ is None


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport(clock=lambda: NOW, seed=5)


async def test_round_trip(transport: FakeTransport) -> None:
    assert isinstance(transport, Transport)
    token = await login(transport)
    answer = await transport.send(create(token))
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    meeting_id = json.loads(answer.body)["data"]["meetingId"]
    assert meeting_id in transport.service.meetings
    query = request("/gateway/cloudwork/meeting/queryByDay", {"day": MEETING["startDate"]}, token)
    items = json.loads((await transport.send(query)).body)["data"]
    assert [item["id"] for item in items] == [meeting_id]
    assert token not in repr(transport)


async def test_the_service_may_be_given() -> None:
    service = FakeService(seed=1)
    assert FakeTransport(service).service is service
    with pytest.raises(TypeError):
        FakeTransport(service, seed=2)


async def test_answers_of_any_status_are_returned(transport: FakeTransport) -> None:
    token = await login(transport)
    transport.service.faults.script.extend(["server_error", "http_429", "malformed"])
    statuses = [(await transport.send(create(token))).status for _ in range(3)]
    assert statuses == [503, 429, 200]


@pytest.mark.parametrize(
    ("fault", "error", "reached"),
    [
        ("refuse", ConnectError, False),
        ("drop_before", NetworkError, True),
        ("drop_after", NetworkError, True),
    ],
)
async def test_connection_faults(
    transport: FakeTransport, fault: str, error: type[TransportError], reached: bool
) -> None:
    token = await login(transport)
    transport.service.faults.script.append(fault)
    with pytest.raises(error) as caught:
        await transport.send(create(token))
    assert type(caught.value) is error
    assert caught.value.endpoint == "create"
    assert caught.value.may_have_reached_server is reached
    assert_no_secret(caught.value, token)
    assert len(transport.service.meetings) == (1 if fault == "drop_after" else 0)


@pytest.mark.parametrize(
    "timeout",
    [Timeout(total=0.02, connect=None, read=None), Timeout(total=None, connect=None, read=0.02)],
)
async def test_a_delay_beyond_the_timeout(transport: FakeTransport, timeout: Timeout) -> None:
    token = await login(transport)
    transport.service.faults.latency = 0.5
    started = time.perf_counter()
    with pytest.raises(RequestTimeout) as caught:
        await transport.send(create(token, timeout=timeout))
    assert 0.015 < time.perf_counter() - started < 0.4
    assert caught.value.endpoint == "create"
    assert_no_secret(caught.value, token)
    assert len(transport.service.meetings) == 1  # the service acted: the outcome is unknown


@pytest.mark.parametrize("timeout", [None, Timeout(total=None, connect=None, read=None), Timeout()])
async def test_a_delay_within_the_timeout(
    transport: FakeTransport, timeout: Timeout | None
) -> None:
    token = await login(transport)
    transport.service.faults.latency = 0.03
    started = time.perf_counter()
    answer = await transport.send(create(token, timeout=timeout))
    assert time.perf_counter() - started >= 0.025
    assert json.loads(answer.body)["success"]


async def test_a_dropped_answer_after_its_delay(transport: FakeTransport) -> None:
    token = await login(transport)
    transport.service.faults.latency = 0.02
    transport.service.faults.script.append("drop_after")
    started = time.perf_counter()
    with pytest.raises(NetworkError):
        await transport.send(create(token))
    assert time.perf_counter() - started >= 0.015


async def test_closed_transport(transport: FakeTransport) -> None:
    async with transport as same:
        assert same is transport
        token = await login(transport)
    assert transport.closed
    with pytest.raises(TransportError) as caught:
        await transport.send(create(token))
    assert_no_secret(caught.value, token)
    await transport.aclose()  # twice is fine


async def test_any_host_and_many_tokens(transport: FakeTransport) -> None:
    for n in range(200):
        answer = await transport.send(
            HttpRequest(
                "POST",
                f"http://10.0.0.{n % 7}:8080/gateway/cloudwork/meeting/queryByDay?accessToken=t{n}",
                {},
                b'{"day":0}',
                endpoint="queryByDay",
            )
        )
        assert json.loads(answer.body)["errorCode"] == 10000401
    assert len(transport._split) <= 64


# --- the aiohttp server ------------------------------------------------------------------------


async def test_server_answers_as_the_service(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    direct = FakeService(clock=lambda: NOW, seed=9)
    served = FakeService(clock=lambda: NOW, seed=9)
    steps: list[tuple[str, Any]] = [
        ("/gateway/oauth2/token/getAccessToken", token_body()),
        ("/gateway/cloudwork/meeting/create", MEETING),
        ("/gateway/cloudwork/meeting/queryByDay", {"day": MEETING["startDate"]}),
        ("/gateway/cloudwork/meeting/cancel", {"id": None, "openid": MEETING["openid"]}),
        ("/gateway/cloudwork/meeting/nothing", {}),
    ]
    async with running(served) as base, aiohttp.ClientSession() as session:
        token = ""
        for path, body in steps:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            query = {"accessToken": token} if token else {}
            expected = direct.handle("POST", path, query, data)
            async with session.post(f"{base}{path}", params=query, data=data) as answer:
                assert answer.status == expected.status
                assert answer.headers["content-type"].startswith("application/json")
                assert await answer.read() == expected.body
            if not token:
                token = json.loads(expected.body)["data"]["accessToken"]
        async with session.get(f"{base}/gateway/cloudwork/meeting/create") as answer:
            assert answer.status == 405
    assert served.meetings == direct.meetings
    assert len(served.meetings) == 1
    assert not [r for r in caplog.records if token in r.getMessage()]


@pytest.mark.parametrize("fault", ["drop_before", "drop_after", "refuse"])
async def test_server_drop_is_a_disconnect(fault: str) -> None:
    service = FakeService(clock=lambda: NOW, seed=1)
    service.faults.script.append(fault)
    runner, port = await serve(service)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/gateway/cloudwork/meeting/queryByDay"
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await session.post(url, json={"day": 0})
            # the server goes on serving
            async with session.post(url, json={"day": 0}) as answer:
                assert (await answer.json())["errorCode"] == 10000401
    finally:
        await runner.cleanup()


async def test_server_latency_and_429() -> None:
    service = FakeService(
        clock=lambda: NOW, seed=1, faults=Faults(latency=0.05, script=["http_429"])
    )
    async with running(service) as base, aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(f"{base}/gateway/cloudwork/meeting/queryByDay", json={}) as answer:
            assert answer.status == 429
            assert answer.headers["retry-after"] == "1"
        assert time.perf_counter() - started >= 0.045


async def test_command_line_server_persists_its_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "yzj_meeting.fake",
        "--port",
        "0",
        "--state",
        str(state),
        "--calls-per-minute",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base = line.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            body = json.loads(token_body())
            body["timestamp"] = int(time.time() * 1000)
            async with session.post(f"{base}/gateway/oauth2/token/getAccessToken", json=body) as a:
                token = (await a.json())["data"]["accessToken"]
            path = f"{base}/gateway/cloudwork/meeting/create"
            async with session.post(path, params={"accessToken": token}, json=MEETING) as a:
                meeting_id = (await a.json())["data"]["meetingId"]
        process.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, errors
        assert token.encode() not in errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert list(FakeService.load(state).meetings) == [meeting_id]
