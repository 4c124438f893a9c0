"""The seams: limiter (give-back, pause, tenant), token store, observer, log extras, one
"may the server have acted" answer, lazy imports."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from typing import Any

import pytest

from yzj_meeting import (
    ApiError,
    AuthError,
    ConnectError,
    Credentials,
    MemoryTokenStore,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimiter,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    TokenProvider,
    ValidationError,
    YzjError,
)
from yzj_meeting._observe import CallEnd
from yzj_meeting.client import error_may_have_acted
from yzj_meeting.limits import Limiter

from .conftest import MakeClient
from .support import (
    BASE_URL,
    SECRET,
    TOKEN_PREFIX,
    ScriptedTransport,
    VirtualTime,
    a_create,
    a_query,
    fail,
    ok,
    raw,
)

# --- one answer to "may the server have acted" ---

ACTED = {
    ConnectError("refused"): False,
    NetworkError("reset"): True,
    RequestTimeout("slow"): True,
    ServerError("HTTP 502", status=502): True,
    ProtocolError("not json"): True,
    OutcomeUnknownError("?", endpoint="create", request=None, model=None, day=None): True,
    ApiError("no", error_code=2001, endpoint="x"): False,
    RateLimitError("slow down", error_code=10000429, endpoint="x"): False,
    AuthError("no", error_code=None, endpoint="x"): False,
    ValidationError("title", "empty"): False,
}


@pytest.mark.parametrize("error", list(ACTED), ids=lambda e: type(e).__name__)
def test_one_property_decides_whether_the_server_may_have_acted(error: YzjError) -> None:
    assert error.may_have_acted is ACTED[error]
    assert error_may_have_acted(error) is ACTED[error]


def test_anything_else_may_have_acted() -> None:
    assert error_may_have_acted(asyncio.CancelledError()) is True
    assert error_may_have_acted(RuntimeError()) is True


# --- the limiter: give-back (issue #11), pause, tenant ---


async def test_cancelled_waiters_give_their_slots_back() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(200, 60.0, clock=vt.clock, sleep=vt.sleep)
    tasks = [asyncio.create_task(limiter.acquire("17717", "queryByDay")) for _ in range(2000)]
    for _ in range(5):
        await asyncio.sleep(0)
    waiting = [t for t in tasks if not t.done()]
    assert len(waiting) == 1800
    for task in waiting:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    vt.now = 61.0  # one window (and its margin) after the 200 that went
    assert limiter.reserve(("17717", "queryByDay")) == 0.0
    # without give-back the 1,800 reservations would push it nine windows out
    assert limiter.reserve(("17717", "queryByDay")) == 0.0


async def test_a_queue_cancelled_before_sending_does_not_hold_the_quota(
    make_client: MakeClient, credentials: Credentials
) -> None:
    vt = VirtualTime()
    transport = ScriptedTransport()
    client = make_client(
        transport, calls_per_minute=200, max_in_flight=4000, clock=vt.clock, sleep=vt.sleep
    )
    tasks = [asyncio.create_task(client.query_by_day(a_query())) for _ in range(2000)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(transport.meeting_requests) == 200
    pending = [t for t in tasks if not t.done()]
    assert len(pending) == 1800
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    vt.now = 61.0
    one_more = asyncio.create_task(client.query_by_day(a_query()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert one_more.done()  # granted at once: no timer was needed
    assert len(transport.meeting_requests) == 201


class RecordingLimiter:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.closed = False

    async def acquire(self, tenant: str, interface: str) -> object:
        slot = ("slot", len(self.events))
        self.events.append(("acquire", tenant, interface))
        return slot

    def give_back(self, slot: object) -> None:
        self.events.append(("give_back", slot))

    def pause(self, tenant: str, interface: str, seconds: float) -> None:
        self.events.append(("pause", tenant, interface, seconds))

    async def aclose(self) -> None:
        self.closed = True


async def test_rate_limiter_is_used_per_tenant_and_paused_when_throttled(
    make_client: MakeClient,
) -> None:
    limiter = RecordingLimiter()
    assert isinstance(limiter, Limiter)
    transport = ScriptedTransport(answers=[fail(10000429, headers={"retry-after": "7"})])
    client = make_client(transport, rate_limiter=limiter)
    assert await client.query_by_day(a_query()) == []
    assert limiter.events == [
        ("acquire", "17717", "queryByDay"),
        ("pause", "17717", "queryByDay", 7.0),
        ("acquire", "17717", "queryByDay"),
    ]
    await client.aclose()
    assert limiter.closed is False  # a given limiter is the caller's to close


async def test_a_call_that_never_left_gives_its_slot_back(make_client: MakeClient) -> None:
    limiter = RecordingLimiter()
    transport = ScriptedTransport(refuse_credentials=True)
    client = make_client(transport, rate_limiter=limiter)
    with pytest.raises(AuthError):
        await client.create_meeting(a_create())
    assert limiter.events == [("acquire", "17717", "create"), ("give_back", ("slot", 0))]
    assert transport.meeting_requests == []


# --- the token store ---


async def test_clients_sharing_a_store_share_one_token(credentials: Credentials) -> None:
    store = MemoryTokenStore()
    transport = ScriptedTransport()
    from yzj_meeting import MeetingClient

    clients = [
        MeetingClient(
            credentials=credentials,
            base_url=BASE_URL,
            transport=transport,
            token_store=store,
            calls_per_minute=None,
        )
        for _ in range(3)
    ]
    for client in clients:
        await client.query_by_day(a_query())
    assert len(transport.token_requests) == 1
    tokens = {r.url.rpartition("=")[2] for r in transport.meeting_requests}
    assert tokens == {f"{TOKEN_PREFIX}-1"}


async def test_renewal_reads_the_store_before_renewing(credentials: Credentials) -> None:
    store = MemoryTokenStore()
    transport = ScriptedTransport()
    one = TokenProvider(credentials, base_url=BASE_URL, transport=transport, store=store)
    two = TokenProvider(credentials, base_url=BASE_URL, transport=transport, store=store)
    first = await one.token()
    assert await two.token() == first
    renewed = await one.renew(first)
    assert renewed != first
    # the other process saw the same refusal: it finds the renewed token in the store
    assert await two.renew(first) == renewed
    assert len(transport.token_requests) == 2
    assert transport.paths()[-1].endswith("refreshToken")


def test_token_store_and_token_provider_are_exclusive(credentials: Credentials) -> None:
    from yzj_meeting import MeetingClient

    provider = TokenProvider(credentials, transport=ScriptedTransport())
    with pytest.raises(ValidationError) as info:
        MeetingClient(
            token_provider=provider, token_store=MemoryTokenStore(), transport=ScriptedTransport()
        )
    assert info.value.field == "token_store"


# --- observation ---


class RecordingObserver:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def call_started(self, endpoint: str, tenant: str) -> object:
        self.events.append(("start", endpoint, tenant))
        return "ctx"

    def call_ended(self, context: object, end: CallEnd) -> None:
        self.events.append(("end", context, end.attempts, end.outcome, end.outcome_unknown))

    def attempt(self, endpoint: str, tenant: str, attempt: int, *rest: Any) -> None:
        self.events.append(("attempt", attempt, rest[0], rest[1], rest[3]))

    def retry(self, endpoint: str, tenant: str, attempt: int, delay: float) -> None:
        self.events.append(("retry", attempt, delay))

    def token(self, tenant: str, kind: str, elapsed: float, error: str | None) -> None:
        self.events.append(("token", kind, error))

    def quota_wait(self, tenant: str, interface: str, waited: float) -> None:
        self.events.append(("quota", interface, waited))


async def test_observer_sees_call_attempts_retries_and_tokens(make_client: MakeClient) -> None:
    observer = RecordingObserver()
    transport = ScriptedTransport(answers=[raw(b"", status=502), raw(b"", status=401)])
    client = make_client(transport, observer=observer, retry=RetryPolicy(base_delay=1.0))
    assert await client.query_by_day(a_query()) == []
    assert observer.events == [
        ("start", "queryByDay", "17717"),
        ("token", "fetch", None),
        ("attempt", 1, 502, None, "ServerError"),
        ("retry", 1, 0.5),
        ("attempt", 2, 401, None, "AuthError"),
        ("token", "renew", None),
        ("attempt", 2, 200, 0, None),
        ("end", "ctx", 2, "ok", False),
    ]


async def test_observer_sees_an_unknown_outcome(make_client: MakeClient) -> None:
    observer = RecordingObserver()
    transport = ScriptedTransport(answers=[raw(b"", status=502)])
    client = make_client(transport, observer=observer)
    with pytest.raises(OutcomeUnknownError):
        await client.create_meeting(a_create())
    assert observer.events[-1] == ("end", "ctx", 1, "OutcomeUnknownError", True)


async def test_observer_sees_quota_waits(make_client: MakeClient) -> None:
    vt = VirtualTime()
    observer = RecordingObserver()
    client = make_client(
        ScriptedTransport(), observer=observer, calls_per_minute=1, clock=vt.clock, sleep=vt.sleep
    )
    tasks = [asyncio.create_task(client.query_by_day(a_query())) for _ in range(2)]
    await vt.run(tasks)
    assert [e for e in observer.events if e[0] == "quota"] == [("quota", "queryByDay", 60.5)]


async def test_log_records_carry_attributes_and_never_the_token(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    transport = ScriptedTransport(answers=[raw(b"", status=502), raw(b"", status=401)])
    client = make_client(transport)
    with caplog.at_level(logging.DEBUG, logger="yzj_meeting"):
        await client.query_by_day(a_query())
    records = [r for r in caplog.records if r.name == "yzj_meeting"]
    assert len(records) >= 4  # the failed attempt, its retry, the refusal, the success
    for record in records:
        for name in ("endpoint", "attempt", "status", "error_code", "elapsed_ms", "tenant"):
            assert hasattr(record, name), (name, record.getMessage())
        assert record.endpoint == "queryByDay"  # type: ignore[attr-defined]
        assert record.tenant == "17717"  # type: ignore[attr-defined]
        text = repr(vars(record)) + record.getMessage()
        assert TOKEN_PREFIX not in text
        assert SECRET not in text
    statuses = [r.status for r in records]  # type: ignore[attr-defined]
    assert 502 in statuses
    assert 200 in statuses


# --- lazy imports ---


def test_importing_the_sdk_loads_neither_the_emulator_nor_aiohttp() -> None:
    code = (
        "import sys, yzj_meeting\n"
        "heavy = ['yzj_meeting.fake', 'yzj_meeting.sync', 'click', 'aiohttp']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "yzj_meeting.FakeTransport, yzj_meeting.AiohttpTransport\n"
        "print('aiohttp' in sys.modules, 'yzj_meeting.fake' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    # The transport's module is loaded, aiohttp itself only at the first request.
    assert out == ["", "False True"]


def test_unknown_attributes_still_raise() -> None:
    import yzj_meeting

    with pytest.raises(AttributeError):
        _ = yzj_meeting.NoSuchThing  # type: ignore[attr-defined]


def test_ok_helper_is_a_success() -> None:
    assert ok(None).status == 200
