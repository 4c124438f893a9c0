"""Reliability: no duplicate or lost meeting under faults, client-side pacing, cancellation,
hostile answers, observability. Everything runs against the emulator, in zero or bounded time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yzj_meeting import (
    SHANGHAI,
    AiohttpTransport,
    Attempt,
    CancelMeeting,
    CreateMeeting,
    Credentials,
    FakeTransport,
    MeetingClient,
    ModifyMeeting,
    OutcomeUnknownError,
    ProtocolError,
    QueryByDay,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    Timeout,
    YzjError,
)
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.server import running
from yzj_meeting.limits import RateLimiter
from yzj_meeting.transports import HttpRequest, HttpResponse

CREATOR = "5a67e08d00b0e8dfe4aab4fa"
START = datetime(2026, 12, 1, 8, tzinfo=SHANGHAI)

# 20% of calls: every kind of fault the emulator can inject, before and after acting. Token
# expiry comes as events instead (every token the service issued expires at once, as when a
# token's lifetime ends), so that a caller's one resend after renewal is not refused by the next
# random expiry: that would be a fresh token refused, which the contract makes an AuthError.
FAULT_MIX = Faults(
    server_error=0.04,
    server_error_after=0.02,
    drop_before=0.03,
    drop_after=0.03,
    malformed=0.03,
    throttle=0.02,
    http_429=0.02,
    refuse=0.01,
)
TOKEN_EXPIRY_EVERY = 500


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def _client(service: FakeService, **kwargs: Any) -> MeetingClient:
    options: dict[str, Any] = {
        "credentials": Credentials(eid="eid-1", secret="secret-1"),
        "base_url": "http://emulator.invalid",
        "transport": FakeTransport(service),
        "calls_per_minute": None,
        "sleep": _no_sleep,
    }
    options.update(kwargs)
    return MeetingClient(**options)


def _create(n: int) -> CreateMeeting:
    start = START + timedelta(days=n % 20, minutes=15 * (n % 40))
    return CreateMeeting(
        openid=CREATOR,
        title=f"meeting #{n}",
        start_date=start,
        end_date=start + timedelta(minutes=30),
    )


async def test_fault_suite_no_duplicate_no_loss(capsys: pytest.CaptureFixture[str]) -> None:
    """10,000 mixed calls at concurrency 100 with 20% injected faults."""
    calls, concurrency = 10_000, 100
    service = FakeService(seed=42, calls_per_minute=None)
    rng = random.Random(7)
    attempts: list[Attempt] = []
    client = _client(
        service,
        retry=RetryPolicy(max_attempts=10, base_delay=0.0, max_delay=0.0, deadline=60.0),
        on_attempt=attempts.append,
        max_in_flight=concurrency,
    )

    # Seed meetings the safe calls work on, without faults.
    seeded = [await client.create_meeting(_create(100_000 + i)) for i in range(50)]
    service.faults = FAULT_MIX

    created: dict[int, str] = {}
    unknown: dict[int, CreateMeeting] = {}
    safe_failures: list[BaseException] = []
    kinds: Counter[str] = Counter()

    async def one(i: int) -> None:
        kind = rng.choice(["create", "create", "query", "modify", "cancel"])
        kinds[kind] += 1
        if i % TOKEN_EXPIRY_EVERY == TOKEN_EXPIRY_EVERY - 1:
            service.expire_tokens()
            kinds["token_expiry"] += 1
        try:
            if kind == "create":
                try:
                    created[i] = await client.create_meeting(_create(i))
                except OutcomeUnknownError as exc:
                    unknown[i] = exc.model
            elif kind == "query":
                await client.query_by_day(QueryByDay(START.date() + timedelta(days=i % 20)))
            elif kind == "modify":
                target = seeded[i % 40]
                await client.modify_meeting(
                    ModifyMeeting(
                        id=target,
                        openid=CREATOR,
                        title=f"seeded {i % 40}",
                        start_date=START,
                        end_date=START + timedelta(hours=1),
                    )
                )
            else:
                await client.cancel_meeting(CancelMeeting(id=seeded[40 + i % 10], openid=CREATOR))
        except YzjError as exc:
            if kind != "create":
                safe_failures.append(exc)

    async with client:
        await client.run_many([lambda i=i: one(i) for i in range(calls)], concurrency=concurrency)

        by_title = Counter(m.title for m in service.meetings.values())
        duplicates = sum(n - 1 for n in by_title.values() if n > 1)
        received = {i for i in unknown if by_title[f"meeting #{i}"]}
        # Reconciliation finds exactly the unknown creates the service did receive.
        service.faults = Faults()
        found = {i for i, model in unknown.items() if await client.find_existing(model)}

    lost = [i for i, mid in created.items() if service.meetings.get(mid) is None]
    assert safe_failures == []
    assert duplicates == 0
    assert lost == []
    assert len(service.meetings) == len(seeded) + len(created) + len(received)
    assert found == received
    assert all(service.meetings[mid].title == f"meeting #{i}" for i, mid in created.items())
    injected = sum(service.faults_injected.values())
    retries = sum(a.attempt > 1 for a in attempts)
    assert injected > calls * 0.15  # the mix really was hostile
    with capsys.disabled():
        print(
            f"\nfault suite: calls={calls} concurrency={concurrency} kinds={dict(kinds)} "
            f"faults_injected={injected} ({dict(service.faults_injected)}) retries={retries} "
            f"creates_ok={len(created)} outcome_unknown={len(unknown)} "
            f"(received {len(received)}, reconciled {len(found)}) duplicates={duplicates} "
            f"lost={len(lost)} safe_failures={len(safe_failures)}"
        )


async def test_client_side_limit_keeps_the_server_from_throttling() -> None:
    """The client's sliding window, scaled down to 0.4 s, against the service counting the same."""
    window, limit = 0.4, 5
    service = FakeService(seed=1, calls_per_minute=limit, rate_window=window)
    throttled: list[Attempt] = []
    client = _client(
        service,
        calls_per_minute=limit,
        on_attempt=lambda a: throttled.append(a) if a.error == "RateLimitError" else None,
        retry=RetryPolicy(max_attempts=1),
    )
    client._limiter = RateLimiter(limit, window, margin=0.05)
    loop = asyncio.get_running_loop()
    async with client:
        await client.token_provider.token()
        started = loop.time()
        outcomes = await client.run_many([QueryByDay(START) for _ in range(20)], concurrency=20)
        elapsed = loop.time() - started
    assert all(o.ok for o in outcomes)
    assert throttled == []
    assert not any(c.error_code == 10000429 for c in service.calls)
    assert elapsed >= 3 * window  # 20 calls at 5 per window: the last group starts 3 windows in


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_waiting_for_a_permit_never_packs_sends_into_one_window(seed: int) -> None:
    """The rate-limit slot is taken with an in-flight permit held: sends at the transport, not
    grants, obey the window, however long calls queue for a permit."""
    import time

    rng = random.Random(seed)
    window, limit = 0.2, 4
    service = FakeService(seed=1, calls_per_minute=None)
    sends: list[float] = []

    class Uneven(FakeTransport):
        async def send(self, request: HttpRequest) -> HttpResponse:
            if "queryByDay" in request.url:
                sends.append(time.monotonic())
                await asyncio.sleep(rng.choice([0.0, 0.0, 0.08]))
            return await super().send(request)

    client = _client(service, transport=Uneven(service), calls_per_minute=limit, max_in_flight=2)
    client._limiter = RateLimiter(limit, window, margin=0.02)  # absorbs timer wake-up lag
    async with client:
        await client.token_provider.token()
        await client.run_many([QueryByDay(START) for _ in range(16)], concurrency=16)
    busiest = max(sum(1 for t in sends if start <= t < start + window - 1e-3) for start in sends)
    assert len(sends) == 16
    assert busiest <= limit


async def test_in_flight_bound() -> None:
    service = FakeService(seed=1)
    peak = 0
    live = 0

    class Slow(FakeTransport):
        async def send(self, request: HttpRequest) -> HttpResponse:
            nonlocal peak, live
            live += 1
            peak = max(peak, live)
            try:
                await asyncio.sleep(0.001)
                return await super().send(request)
            finally:
                live -= 1

    async with _client(service, transport=Slow(service), max_in_flight=7) as client:
        await asyncio.gather(*(client.query_by_day(QueryByDay(START)) for _ in range(100)))
    assert peak == 7


@pytest.fixture
async def slow_emulator() -> AsyncIterator[tuple[FakeService, str]]:
    service = FakeService(seed=3, calls_per_minute=None)
    async with running(service) as base_url:
        yield service, base_url


async def test_cancelling_thousands_of_in_flight_calls_leaks_nothing(
    slow_emulator: tuple[FakeService, str],
) -> None:
    service, base_url = slow_emulator
    transport = AiohttpTransport(limit=200)
    client = MeetingClient(
        credentials=Credentials(eid="e", secret="s"),
        base_url=base_url,
        transport=transport,
        calls_per_minute=None,
        max_in_flight=200,
    )
    async with client:
        await client.token_provider.token()
        service.faults.latency = 2.0  # every answer now takes 2 s: calls pile up on the wire
        tasks = [asyncio.ensure_future(client.query_by_day(QueryByDay(START))) for _ in range(3000)]
        for _ in range(200):  # until the first 200 are on the wire
            await asyncio.sleep(0.01)
            if sum(c.endpoint == "queryByDay" for c in service.calls) >= 200:
                break
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # On a slow machine a few may have been answered first; the rest were cancelled.
        assert all(isinstance(r, asyncio.CancelledError) or r == [] for r in results)
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) >= 2000
        await asyncio.sleep(0)
        # The emulator serves from this loop too: its handler tasks are not the client's.
        client_tasks = {
            t for t in asyncio.all_tasks() if "RequestHandler" not in t.get_coro().__qualname__
        }
        assert client_tasks == {asyncio.current_task()}
        session = transport._session
        assert session is not None
        assert len(session.connector._acquired) == 0  # type: ignore[union-attr]
        assert client._in_flight._value == 200  # every permit given back

        service.faults.latency = 0.0
        assert await client.query_by_day(QueryByDay(START)) == []  # still works


# --- hostile answers ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
meeting_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "title": json_values,
        "startDate": st.integers() | json_values,
        "endDate": st.integers() | json_values,
        "noticeTime": json_values,
        "meetingStatus": json_values,
        "type": json_values,
        "openid": json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "success": st.booleans() | json_values,
        "errorCode": st.integers() | json_values,
        "error": json_values,
        "data": json_values
        | st.lists(meeting_like, max_size=3)
        | st.fixed_dictionaries({}, optional={"meetingId": json_values, "meetingIds": json_values}),
    },
)
bodies = (
    st.binary(max_size=64)
    | envelopes.map(lambda e: json.dumps(e).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.just(b"<html><body><h1>502 Bad Gateway</h1></body></html>")
)
statuses = st.sampled_from([200, 200, 200, 201, 302, 400, 401, 403, 404, 429, 500, 502, 503])
TOKEN_ANSWER = b'{"success":true,"errorCode":0,"data":{"accessToken":"t0k","expireIn":7200}}'


class Hostile:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def send(self, request: HttpRequest) -> HttpResponse:
        if "/token/" in request.url:
            return HttpResponse(200, {}, TOKEN_ANSWER)
        return HttpResponse(self.status, {"retry-after": "abc"}, self.body)

    async def aclose(self) -> None:
        pass


ENDPOINT_CALLS = [
    lambda c: c.create_meeting(_create(1)),
    lambda c: c.query_by_day(QueryByDay(date(2026, 12, 1))),
    lambda c: c.cancel_meeting(CancelMeeting(id="x" * 24, openid=CREATOR)),
    lambda c: c.repeat_meeting(
        __import__("yzj_meeting").RepeatMeeting(
            openid=CREATOR,
            title="t",
            start_date=START,
            end_date=START + timedelta(hours=1),
            repeat=3,
            repeat_end_date=START + timedelta(days=30),
        )
    ),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, body=bodies, which=st.sampled_from(range(len(ENDPOINT_CALLS))))
async def test_any_answer_ends_in_a_result_or_a_yzj_error(
    status: int, body: bytes, which: int
) -> None:
    client = MeetingClient(
        credentials=Credentials(eid="e", secret="s"),
        transport=Hostile(status, body),
        calls_per_minute=None,
        retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0),
        sleep=_no_sleep,
    )
    async with client:
        with contextlib.suppress(YzjError):  # any other exception type fails the test
            await asyncio.wait_for(ENDPOINT_CALLS[which](client), timeout=5)


async def _drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for byte in b'{"success":true,"errorCode":0,"data":null}' * 100:
        await response.write(bytes([byte]))
        await asyncio.sleep(0.02)
    return response


async def _huge(request: web.Request) -> web.Response:
    return web.Response(body=b"[" + b"1," * 5_000_000 + b"1]", content_type="application/json")


async def _html(request: web.Request) -> web.Response:
    return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")


@pytest.fixture
async def hostile_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/gateway/oauth2/token/getAccessToken", _token_ok)
    app.router.add_post("/gateway/cloudwork/meeting/queryByDay", _drip)
    app.router.add_post("/gateway/cloudwork/meeting/cancel", _huge)
    app.router.add_post("/gateway/cloudwork/meeting/modify", _html)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _token_ok(request: web.Request) -> web.Response:
    return web.Response(body=TOKEN_ANSWER, content_type="application/json")


async def test_slow_drip_huge_body_and_html_page_end_in_typed_errors(hostile_server: str) -> None:
    client = MeetingClient(
        credentials=Credentials(eid="e", secret="s"),
        base_url=hostile_server,
        transport=AiohttpTransport(max_body=1024 * 1024),
        timeout=Timeout(total=0.5, connect=1.0, read=0.3),
        calls_per_minute=None,
        retry=RetryPolicy(max_attempts=1),
    )
    loop = asyncio.get_running_loop()
    async with client:
        started = loop.time()
        with pytest.raises(RequestTimeout):
            await client.query_by_day(QueryByDay(START))
        assert loop.time() - started < 2.0
        with pytest.raises(ProtocolError):
            await client.cancel_meeting(CancelMeeting(id="x" * 24, openid=CREATOR))
        with pytest.raises(ServerError):
            await client.modify_meeting(
                ModifyMeeting(
                    id="x" * 24,
                    openid=CREATOR,
                    title="t",
                    start_date=START,
                    end_date=START + timedelta(hours=1),
                )
            )


# --- observability ---


async def test_one_debug_record_per_attempt_and_a_warning_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = FakeService(seed=5, faults=Faults(script=["server_error", "ok"]))
    seen: list[Attempt] = []
    caplog.set_level(logging.DEBUG, logger="yzj_meeting")
    async with _client(service, on_attempt=seen.append) as client:
        await client.query_by_day(QueryByDay(START))
    attempts = [
        r for r in caplog.records if r.levelno == logging.DEBUG and "attempt=" in r.getMessage()
    ]
    assert [r.getMessage().split()[0:2] for r in attempts] == [
        ["queryByDay", "attempt=1"],
        ["queryByDay", "attempt=2"],
    ]
    assert "status=503" in attempts[0].getMessage()
    assert "elapsed=" in attempts[0].getMessage()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "retrying" in warnings[0].getMessage()
    assert [(a.attempt, a.status, a.error) for a in seen] == [
        (1, 503, "ServerError"),
        (2, 200, None),
    ]


async def test_trace_configs_reach_the_aiohttp_session() -> None:
    service = FakeService(seed=6)
    started: list[str] = []

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        started.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with running(service) as base_url:
        client = MeetingClient(
            credentials=Credentials(eid="e", secret="s"),
            base_url=base_url,
            transport=AiohttpTransport(trace_configs=[trace]),
        )
        async with client:
            await client.query_by_day(QueryByDay(START))
    assert started == [
        "/gateway/oauth2/token/getAccessToken",
        "/gateway/cloudwork/meeting/queryByDay",
    ]
