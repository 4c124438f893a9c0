"""MeetingClient over a scripted transport: wire, tokens, retries, create safety, bulk, lifetime."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from yzj_meeting import (
    ApiError,
    Attempt,
    AuthError,
    ConnectError,
    Credentials,
    MeetingClient,
    MeetingInfo,
    NetworkError,
    Outcome,
    OutcomeUnknownError,
    Progress,
    ProtocolError,
    RateLimitError,
    RepeatSeries,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    Timeout,
    TokenProvider,
    TransportError,
    ValidationError,
)
from yzj_meeting._convert import to_ms
from yzj_meeting._http import HttpRequest, HttpResponse
from yzj_meeting._operations import build, build_query_by_day

from .conftest import MakeClient
from .support import (
    BASE_URL,
    END,
    GET_TOKEN_PATH,
    MEETING_PATH,
    REFRESH_TOKEN_PATH,
    START,
    TOKEN_PREFIX,
    FakeClock,
    RecordingSleep,
    ScriptedTransport,
    VirtualTime,
    a_batch_cancel,
    a_batch_modify,
    a_cancel,
    a_create,
    a_modify,
    a_query,
    a_repeat,
    body_of,
    fail,
    ok,
    path_of,
    raw,
    token_of,
)

TOKEN_1 = f"{TOKEN_PREFIX}-1"
TOKEN_2 = f"{TOKEN_PREFIX}-2"

ITEM = {"id": "m-9", "title": "Weekly", "startDate": 1522729800000, "endDate": 1522737000000}


# --- construction ---


def test_exactly_one_of_credentials_and_token_provider(credentials: Credentials) -> None:
    transport = ScriptedTransport()
    with pytest.raises(ValidationError) as info:
        MeetingClient(transport=transport)
    assert info.value.field == "credentials"
    provider = TokenProvider(credentials, transport=transport)
    with pytest.raises(ValidationError):
        MeetingClient(credentials=credentials, token_provider=provider, transport=transport)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retry": {"max_attempts": 2}},
        {"calls_per_minute": 0},
        {"calls_per_minute": 1.5},
        {"max_in_flight": 0},
        {"base_url": "yzj.test"},
        {"base_url": "https://yzj.test/?x=1"},
    ],
)
def test_bad_options_are_refused(credentials: Credentials, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MeetingClient(credentials=credentials, transport=ScriptedTransport(), **kwargs)


async def test_given_token_provider_is_used(make_client: MakeClient) -> None:
    transport = ScriptedTransport(token_prefix="PROVIDED")
    provider = TokenProvider(
        Credentials(eid="e", secret="s"), base_url=BASE_URL, transport=transport
    )
    client = make_client(transport, token_provider=provider)
    assert client.token_provider is provider
    assert client.transport is transport
    await client.cancel_meeting(a_cancel())
    assert token_of(transport.meeting_requests[0]) == "PROVIDED-1"


# --- the seven methods on the wire ---

METHODS: list[tuple[str, Callable[[], Any], Any, Any]] = [
    ("create_meeting", a_create, {"meetingId": "new-1"}, "new-1"),
    ("modify_meeting", a_modify, None, None),
    ("cancel_meeting", a_cancel, None, None),
    (
        "repeat_meeting",
        a_repeat,
        {"meetingIds": ["p", "c1", "c2"]},
        RepeatSeries(meeting_ids=["p", "c1", "c2"]),
    ),
    ("batch_modify", a_batch_modify, None, None),
    ("batch_cancel", a_batch_cancel, None, None),
    ("query_by_day", a_query, [ITEM], None),
]


@pytest.mark.parametrize(("method", "factory", "data", "expected"), METHODS)
async def test_method_sends_the_documented_request(
    make_client: MakeClient, method: str, factory: Callable[[], Any], data: Any, expected: Any
) -> None:
    transport = ScriptedTransport(answers=[ok(data)])
    client = make_client(transport)
    model = factory()
    result = await getattr(client, method)(model)

    assert transport.paths() == [GET_TOKEN_PATH, path_of(transport.meeting_requests[0])]
    [sent] = transport.meeting_requests
    endpoint = build(model).endpoint
    assert sent.method == "POST"
    assert sent.url == f"{BASE_URL}{MEETING_PATH}{endpoint}?accessToken={TOKEN_1}"
    assert token_of(sent) == TOKEN_1
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == build(model).body
    assert body_of(sent) == json.loads(build(model).body)
    assert sent.endpoint == endpoint
    if method == "query_by_day":
        [info] = result
        assert isinstance(info, MeetingInfo)
        assert info.id == "m-9"
        assert to_ms(info.start_date) == 1522729800000
    else:
        assert result == expected


async def test_token_with_reserved_characters_is_quoted(make_client: MakeClient) -> None:
    transport = ScriptedTransport(token_prefix="a+b/c=d&e")
    client = make_client(transport)
    await client.cancel_meeting(a_cancel())
    [sent] = transport.meeting_requests
    assert sent.url.endswith("?accessToken=a%2Bb%2Fc%3Dd%26e-1")
    assert token_of(sent) == "a+b/c=d&e-1"


async def test_success_with_other_error_codes_is_success(make_client: MakeClient) -> None:
    transport = ScriptedTransport(answers=[ok({"meetingId": "x"}, error_code=200)])
    assert await make_client(transport).create_meeting(a_create()) == "x"


@pytest.mark.parametrize(
    ("method", "model"),
    [("create_meeting", a_modify()), ("query_by_day", a_create()), ("cancel_meeting", None)],
)
async def test_method_refuses_the_wrong_model(
    make_client: MakeClient, method: str, model: Any
) -> None:
    transport = ScriptedTransport()
    with pytest.raises(ValidationError):
        await getattr(make_client(transport), method)(model)
    assert transport.requests == []


async def test_api_error_is_not_retried(make_client: MakeClient) -> None:
    transport = ScriptedTransport(answers=[fail(2001, "会议不存在")])
    with pytest.raises(ApiError) as info:
        await make_client(transport).modify_meeting(a_modify())
    assert type(info.value) is ApiError
    assert info.value.error_code == 2001
    assert info.value.endpoint == "modify"
    assert len(transport.meeting_requests) == 1


async def test_per_call_and_default_timeouts_reach_the_transport(make_client: MakeClient) -> None:
    transport = ScriptedTransport()
    default = Timeout(total=9.0)
    client = make_client(transport, timeout=default)
    await client.cancel_meeting(a_cancel())
    own = Timeout(total=1.0, connect=0.5, read=0.5)
    await client.cancel_meeting(a_cancel(), timeout=own)
    assert [r.timeout for r in transport.meeting_requests] == [default, own]


async def test_the_token_is_fetched_once_for_many_calls(make_client: MakeClient) -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    await asyncio.gather(*(client.cancel_meeting(a_cancel()) for _ in range(100)))
    assert len(transport.token_requests) == 1
    assert {token_of(r) for r in transport.meeting_requests} == {TOKEN_1}


# --- a refused token ---

REFUSALS: dict[str, Callable[[], HttpResponse]] = {
    "http-401": lambda: raw(b"", status=401),
    "http-403": lambda: raw(b"<html>forbidden</html>", status=403),
    "code-10000401": lambda: fail(10000401, "token invalid"),
    "code-10000403": lambda: fail(10000403, "token expired"),
}


def refuse_token(refused: str, refusal: Callable[[], HttpResponse]) -> Callable[..., Any]:
    def handler(request: HttpRequest) -> HttpResponse:
        if token_of(request) == refused:
            return refusal()
        return ok({"meetingId": "created"})

    return handler


@pytest.mark.parametrize("kind", list(REFUSALS))
async def test_refused_token_is_renewed_once_and_the_call_resent(
    make_client: MakeClient, kind: str
) -> None:
    transport = ScriptedTransport(refuse_token(TOKEN_1, REFUSALS[kind]))
    client = make_client(transport)
    # create is resent too: a refused token means the server did nothing.
    assert await client.create_meeting(a_create()) == "created"
    assert transport.paths() == [
        GET_TOKEN_PATH,
        MEETING_PATH + "create",
        REFRESH_TOKEN_PATH,
        MEETING_PATH + "create",
    ]
    assert [token_of(r) for r in transport.meeting_requests] == [TOKEN_1, TOKEN_2]
    assert transport.meeting_requests[0].body == transport.meeting_requests[1].body


async def test_custom_token_error_codes(make_client: MakeClient) -> None:
    transport = ScriptedTransport(refuse_token(TOKEN_1, lambda: fail(40001, "expired")))
    client = make_client(transport, token_error_codes={40001})
    await client.cancel_meeting(a_cancel())
    assert [token_of(r) for r in transport.meeting_requests] == [TOKEN_1, TOKEN_2]

    other = ScriptedTransport(refuse_token(TOKEN_1, lambda: fail(10000401, "x")))
    with pytest.raises(ApiError) as info:
        await make_client(other, token_error_codes={40001}).cancel_meeting(a_cancel())
    assert type(info.value) is ApiError
    assert len(other.token_requests) == 1


async def test_concurrent_refusals_share_one_renewal(make_client: MakeClient) -> None:
    transport = ScriptedTransport(refuse_token(TOKEN_1, REFUSALS["http-401"]))
    client = make_client(transport, max_in_flight=500)
    results = await asyncio.gather(*(client.create_meeting(a_create()) for _ in range(200)))
    assert results == ["created"] * 200
    assert [path_of(r) for r in transport.token_requests] == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH]
    tokens = [token_of(r) for r in transport.meeting_requests]
    assert tokens.count(TOKEN_1) == 200
    assert tokens.count(TOKEN_2) == 200
    assert len(tokens) == 400


async def test_concurrent_refusals_share_one_renewal_with_the_in_flight_bound(
    make_client: MakeClient,
) -> None:
    transport = ScriptedTransport(refuse_token(TOKEN_1, REFUSALS["code-10000401"]))
    client = make_client(transport, max_in_flight=16)
    await asyncio.gather(*(client.cancel_meeting(a_cancel()) for _ in range(200)))
    assert len(transport.token_requests) == 2
    assert transport.peak <= 16
    # Every call is sent at most twice, and its last attempt carries the new token.
    assert len(transport.meeting_requests) <= 400
    assert sum(token_of(r) == TOKEN_2 for r in transport.meeting_requests) == 200


async def test_refused_twice_is_an_auth_error(make_client: MakeClient) -> None:
    transport = ScriptedTransport(lambda r: raw(b"", status=401))
    with pytest.raises(AuthError) as info:
        await make_client(transport).query_by_day(a_query())
    assert info.value.endpoint == "queryByDay"
    assert len(transport.meeting_requests) == 2
    assert [token_of(r) for r in transport.meeting_requests] == [TOKEN_1, TOKEN_2]
    assert len(transport.token_requests) == 2


async def test_a_late_refusal_shares_the_renewal_and_is_sent_only_twice(
    make_client: MakeClient,
) -> None:
    gate = asyncio.Event()
    with_first_token = 0

    async def refuse_everything(request: HttpRequest) -> HttpResponse:
        nonlocal with_first_token
        if token_of(request) == TOKEN_1:
            with_first_token += 1
            if with_first_token == 2:
                await gate.wait()  # the second caller's refusal of token 1 arrives late
        return raw(b"", status=401)

    transport = ScriptedTransport(refuse_everything)
    client = make_client(transport)
    early = asyncio.create_task(client.query_by_day(a_query()))
    late = asyncio.create_task(client.query_by_day(a_query()))
    with pytest.raises(AuthError):
        await early  # refused with token 1, renewed into token 2, refused again
    gate.set()
    with pytest.raises(AuthError):
        await late
    # Both callers saw the same refusal of token 1: one renewal, each call sent twice.
    assert [path_of(r) for r in transport.token_requests] == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH]
    assert [token_of(r) for r in transport.meeting_requests] == [TOKEN_1, TOKEN_1, TOKEN_2, TOKEN_2]


async def test_refused_credentials_are_an_auth_error_and_nothing_is_sent(
    make_client: MakeClient,
) -> None:
    transport = ScriptedTransport(refuse_credentials=True)
    with pytest.raises(AuthError) as info:
        await make_client(transport).create_meeting(a_create())
    assert info.value.endpoint == "getAccessToken"
    assert transport.meeting_requests == []
    assert len(transport.token_requests) == 1


async def test_renewal_refused_is_an_auth_error(make_client: MakeClient) -> None:
    transport = ScriptedTransport(lambda r: raw(b"", status=401), refuse_refresh=True)
    client = make_client(transport)
    await client.token_provider.token()
    transport.refuse_credentials = True
    with pytest.raises(AuthError):
        await client.cancel_meeting(a_cancel())
    assert len(transport.meeting_requests) == 1


# --- retries of calls that are safe to repeat ---

FAILURES: dict[str, Callable[[], Any]] = {
    "http-503": lambda: raw(b"<html>busy</html>", status=503),
    "connect": lambda: ConnectError("refused", endpoint="queryByDay"),
    "network": lambda: NetworkError("reset", endpoint="queryByDay"),
    "timeout": lambda: RequestTimeout("slow", endpoint="queryByDay"),
    "not-json": lambda: raw(b"<html>ok</html>"),
    "no-success": lambda: raw(b'{"data": []}'),
}


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_queries_are_retried(
    make_client: MakeClient, sleep: RecordingSleep, kind: str
) -> None:
    failure = FAILURES[kind]
    transport = ScriptedTransport(answers=[failure(), failure(), ok([ITEM])])
    client = make_client(transport)
    [info] = await client.query_by_day(a_query())
    assert info.id == "m-9"
    assert len(transport.meeting_requests) == 3
    # random() = 0.5, full jitter over base_delay * 2**(n-1) with the default base 0.5 s
    assert sleep.delays == [0.25, 0.5]


@pytest.mark.parametrize("kind", ["http-503", "network", "not-json"])
@pytest.mark.parametrize(
    "method", ["modify_meeting", "cancel_meeting", "batch_modify", "batch_cancel"]
)
async def test_idempotent_writes_are_retried(
    make_client: MakeClient, kind: str, method: str
) -> None:
    factory = {
        "modify_meeting": a_modify,
        "cancel_meeting": a_cancel,
        "batch_modify": a_batch_modify,
        "batch_cancel": a_batch_cancel,
    }[method]
    transport = ScriptedTransport(answers=[FAILURES[kind]()])
    await getattr(make_client(transport), method)(factory())
    assert len(transport.meeting_requests) == 2


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_max_attempts_is_respected(
    make_client: MakeClient, sleep: RecordingSleep, attempts: int
) -> None:
    transport = ScriptedTransport(lambda r: raw(b"", status=502))
    client = make_client(
        transport, retry=RetryPolicy(max_attempts=attempts, base_delay=0.1, deadline=1000)
    )
    with pytest.raises(ServerError) as info:
        await client.query_by_day(a_query())
    assert info.value.status == 502
    assert len(transport.meeting_requests) == attempts
    assert len(sleep.delays) == attempts - 1


async def test_deadline_is_respected(
    make_client: MakeClient, sleep: RecordingSleep, clock: FakeClock
) -> None:
    transport = ScriptedTransport(lambda r: ConnectError("refused"))
    policy = RetryPolicy(max_attempts=100, base_delay=1.0, max_delay=1.0, deadline=3.5)
    client = make_client(transport, retry=policy, random=lambda: 0.999)
    started = clock.now
    with pytest.raises(ConnectError):
        await client.query_by_day(a_query())
    # Each pause is 0.999 s (the sleep advances the clock); no pause may end past the deadline.
    assert sleep.delays == [0.999] * 3
    assert clock.now - started <= 3.5
    assert len(transport.meeting_requests) == 4


async def test_deadline_counts_time_spent_in_attempts(
    make_client: MakeClient, sleep: RecordingSleep, clock: FakeClock
) -> None:
    def slow(request: HttpRequest) -> HttpResponse:
        clock.advance(2.0)  # each attempt takes 2 s
        return raw(b"", status=500)

    transport = ScriptedTransport(slow)
    policy = RetryPolicy(max_attempts=100, base_delay=0.1, max_delay=0.1, deadline=5.0)
    client = make_client(transport, retry=policy, random=lambda: 1.0)
    with pytest.raises(ServerError):
        await client.query_by_day(a_query())
    # attempt 1 ends at 2 s, attempt 2 at 4.1 s, attempt 3 at 6.2 s: past the deadline.
    assert len(transport.meeting_requests) == 3


async def test_a_token_fetch_failure_is_retried(make_client: MakeClient) -> None:
    transport = ScriptedTransport(
        lambda r: ok({"meetingId": "m"}),
        token_answers=[NetworkError("reset"), raw(b"", status=500)],
    )
    client = make_client(transport)
    # The create itself had not left: resending is safe, nothing is "unknown".
    assert await client.create_meeting(a_create()) == "m"
    assert len(transport.token_requests) == 3
    assert len(transport.meeting_requests) == 1


# --- create and repeatMeeting are never resent once they may have arrived ---

UNCLEAR: dict[str, Callable[[], Any]] = {
    "network": lambda: NetworkError("reset", endpoint="create"),
    "timeout": lambda: RequestTimeout("slow", endpoint="create"),
    "http-500": lambda: raw(b"", status=500),
    "http-504": lambda: raw(b"<html>gateway timeout</html>", status=504),
    "not-json": lambda: raw(b"<html>ok</html>"),
    "not-an-object": lambda: raw(b"[]"),
    "no-meeting-id": lambda: ok({}),
}
CAUSES = {
    "network": NetworkError,
    "timeout": RequestTimeout,
    "http-500": ServerError,
    "http-504": ServerError,
    "not-json": ProtocolError,
    "not-an-object": ProtocolError,
    "no-meeting-id": ProtocolError,
}


@pytest.mark.parametrize("kind", list(UNCLEAR))
async def test_create_is_not_resent_after_an_unclear_failure(
    make_client: MakeClient, sleep: RecordingSleep, kind: str
) -> None:
    failure = UNCLEAR[kind]()
    transport = ScriptedTransport(answers=[failure], handler=lambda r: ok({"meetingId": "dup"}))
    model = a_create()
    with pytest.raises(OutcomeUnknownError) as info:
        await make_client(transport).create_meeting(model)
    err = info.value
    assert isinstance(err, TransportError)
    assert len(transport.meeting_requests) == 1
    assert sleep.delays == []
    assert err.model is model
    assert err.day == model.start_date
    assert err.endpoint == "create"
    assert isinstance(err.__cause__, CAUSES[kind])
    if isinstance(failure, BaseException):
        assert err.__cause__ is failure
    assert "find_existing" in str(err)


@pytest.mark.parametrize("kind", ["network", "http-500", "not-json"])
async def test_repeat_meeting_is_not_resent_after_an_unclear_failure(
    make_client: MakeClient, kind: str
) -> None:
    transport = ScriptedTransport(answers=[UNCLEAR[kind]()])
    model = a_repeat()
    with pytest.raises(OutcomeUnknownError) as info:
        await make_client(transport).repeat_meeting(model)
    assert len(transport.meeting_requests) == 1
    assert info.value.model is model
    assert info.value.day == model.start_date
    assert info.value.endpoint == "repeatMeeting"


async def test_create_is_resent_after_connect_error(
    make_client: MakeClient, sleep: RecordingSleep
) -> None:
    transport = ScriptedTransport(
        answers=[ConnectError("refused"), ConnectError("refused"), ok({"meetingId": "m-1"})]
    )
    assert await make_client(transport).create_meeting(a_create()) == "m-1"
    assert len(transport.meeting_requests) == 3
    assert len(sleep.delays) == 2


async def test_create_connect_error_every_time_is_a_connect_error(
    make_client: MakeClient,
) -> None:
    transport = ScriptedTransport(lambda r: ConnectError("refused"))
    client = make_client(transport, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ConnectError):
        await client.create_meeting(a_create())
    assert len(transport.meeting_requests) == 3


@pytest.mark.parametrize(
    "throttled",
    [
        lambda: raw(b"", status=429, headers={"retry-after": "7"}),
        lambda: fail(10000429, "请求过于频繁", headers={"retry-after": "7"}),
    ],
    ids=["http-429", "code-10000429"],
)
async def test_create_is_resent_after_throttling_honouring_retry_after(
    make_client: MakeClient, sleep: RecordingSleep, throttled: Callable[[], HttpResponse]
) -> None:
    transport = ScriptedTransport(answers=[throttled(), ok({"meetingId": "m-1"})])
    assert await make_client(transport).create_meeting(a_create()) == "m-1"
    assert len(transport.meeting_requests) == 2
    assert sleep.delays == [7.0]


async def test_throttled_without_retry_after_waits_at_least_base_delay(
    make_client: MakeClient, sleep: RecordingSleep
) -> None:
    transport = ScriptedTransport(answers=[fail(10000429, "busy"), ok({"meetingId": "m"})])
    client = make_client(transport, retry=RetryPolicy(base_delay=0.4), random=lambda: 0.0)
    await client.create_meeting(a_create())
    assert sleep.delays == [0.4]


async def test_retry_after_beyond_the_deadline_gives_up(
    make_client: MakeClient, sleep: RecordingSleep
) -> None:
    transport = ScriptedTransport(answers=[raw(b"", status=429, headers={"retry-after": "60"})])
    with pytest.raises(RateLimitError) as info:
        await make_client(transport).create_meeting(a_create())
    assert info.value.retry_after == 60
    assert sleep.delays == []
    assert len(transport.meeting_requests) == 1


# --- find_existing ---


def info_item(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "x",
        "title": "Weekly",
        "openid": "oid-1",
        "startDate": to_ms(START),
        "endDate": to_ms(END),
        "meetingStatus": 0,
    }
    return {**base, **fields}


async def test_find_existing_matches_title_start_end_and_openid(make_client: MakeClient) -> None:
    day = [
        info_item(id="other-title", title="Monthly"),
        info_item(id="other-start", startDate=to_ms(START) + 60_000),
        info_item(id="other-end", endDate=to_ms(END) - 1),
        info_item(id="other-creator", openid="oid-2"),
        info_item(id="cancelled", meetingStatus=2),
        info_item(id="excluded"),
        info_item(id="the-one", meetingStatus=1),
        info_item(id="later-twin"),
    ]
    transport = ScriptedTransport(lambda r: ok(day))
    client = make_client(transport)
    found = await client.find_existing(a_create(), exclude=["excluded"])
    assert found is not None
    assert found.id == "the-one"
    [query] = transport.meeting_requests
    assert path_of(query) == MEETING_PATH + "queryByDay"
    assert body_of(query) == {"day": to_ms(START)}


async def test_find_existing_finds_nothing(make_client: MakeClient) -> None:
    day = [info_item(id="cancelled", meetingStatus=2), info_item(id="gone")]
    transport = ScriptedTransport(lambda r: ok(day))
    client = make_client(transport)
    assert await client.find_existing(a_create(), exclude={"gone"}) is None
    transport.handler = lambda r: ok(None)
    assert await client.find_existing(a_create()) is None


async def test_find_existing_accepts_a_missing_openid(make_client: MakeClient) -> None:
    item = info_item(id="anon")
    del item["openid"]
    transport = ScriptedTransport(lambda r: ok([item]))
    found = await make_client(transport).find_existing(a_create())
    assert found is not None
    assert found.id == "anon"


async def test_find_existing_for_a_series_finds_its_parent(make_client: MakeClient) -> None:
    model = a_repeat()
    transport = ScriptedTransport(lambda r: ok([info_item(id="parent", title=model.title)]))
    found = await make_client(transport).find_existing(model)
    assert found is not None
    assert found.id == "parent"


async def test_outcome_unknown_then_find_existing(make_client: MakeClient) -> None:
    transport = ScriptedTransport(answers=[NetworkError("reset")])
    client = make_client(transport)
    with pytest.raises(OutcomeUnknownError) as info:
        await client.create_meeting(a_create())
    transport.handler = lambda r: ok([info_item(id="it-was-created")])
    found = await client.find_existing(info.value.model)
    assert found is not None
    assert found.id == "it-was-created"


# --- run_many ---


def create_items(n: int) -> list[Any]:
    return [a_create(title=f"t{i}") for i in range(n)]


def echo_title(fail_every: int = 0) -> Callable[[HttpRequest], Any]:
    async def handler(request: HttpRequest) -> HttpResponse:
        title = body_of(request)["title"]
        n = int(title[1:])
        for _ in range((n * 7) % 5):  # finish out of order
            await asyncio.sleep(0)
        if fail_every and n % fail_every == 3:
            return fail(2001, f"refused {title}")
        return ok({"meetingId": f"id-{title}"})

    return handler


async def test_run_many_outcomes_in_input_order_with_failures_recorded(
    make_client: MakeClient,
) -> None:
    transport = ScriptedTransport(echo_title(fail_every=10))
    client = make_client(transport)
    progress: list[Progress] = []
    landed: list[Outcome[Any, Any]] = []
    items = create_items(50)
    outcomes = await client.run_many(
        items, concurrency=7, on_progress=progress.append, on_outcome=landed.append
    )
    assert [o.index for o in outcomes] == list(range(50))
    # The list keeps the items of failed outcomes only; on_outcome saw every item.
    assert [o.item for o in outcomes] == [
        item if i % 10 == 3 else None for i, item in enumerate(items)
    ]
    assert all(o.item is items[o.index] for o in landed)
    for i, outcome in enumerate(outcomes):
        if i % 10 == 3:
            assert not outcome.ok
            assert isinstance(outcome.error, ApiError)
            assert outcome.result is None
        else:
            assert outcome.ok
            assert outcome.result == f"id-t{i}"
    assert [p.done for p in progress] == list(range(1, 51))
    assert progress[-1] == Progress(done=50, failed=5, total=50)
    assert [p.failed for p in progress] == sorted(p.failed for p in progress)
    assert len(landed) == 50
    assert [o.index for o in landed] != list(range(50))  # landed out of order
    assert transport.peak <= 7


@pytest.mark.parametrize("concurrency", [1, 3, 16])
async def test_run_many_respects_the_concurrency_bound(
    make_client: MakeClient, concurrency: int
) -> None:
    transport = ScriptedTransport(echo_title())
    client = make_client(transport)
    outcomes = await client.run_many(create_items(60), concurrency=concurrency)
    assert all(o.ok for o in outcomes)
    assert transport.peak == concurrency


async def test_run_many_default_concurrency_is_max_in_flight(make_client: MakeClient) -> None:
    transport = ScriptedTransport(echo_title())
    client = make_client(transport, max_in_flight=5)
    await client.run_many(create_items(40))
    assert transport.peak == 5


async def test_run_many_mixed_items(make_client: MakeClient) -> None:
    transport = ScriptedTransport(echo_title())
    client = make_client(transport)
    seen: list[str] = []

    async def custom() -> str:
        seen.append("ran")
        return "custom-result"

    items: list[Any] = [a_create(title="t1"), build(a_create(title="t2")), custom, 42]
    outcomes = await client.run_many(items)
    assert [o.result for o in outcomes[:3]] == ["id-t1", "id-t2", "custom-result"]
    assert isinstance(outcomes[3].error, ValidationError)
    assert seen == ["ran"]


async def test_run_many_with_an_async_iterable(make_client: MakeClient) -> None:
    transport = ScriptedTransport(echo_title())
    client = make_client(transport)

    async def produce() -> Any:
        for item in create_items(20):
            await asyncio.sleep(0)
            yield item

    progress: list[Progress] = []
    outcomes = await client.run_many(produce(), concurrency=4, on_progress=progress.append)
    assert [o.result for o in outcomes] == [f"id-t{i}" for i in range(20)]
    assert progress[-1] == Progress(done=20, failed=0, total=None)


async def test_run_many_holds_only_concurrency_tasks_for_a_huge_generator(
    make_client: MakeClient,
) -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    await client.token_provider.token()  # no token flight task during the run
    request = build_query_by_day(a_query())
    baseline = len(asyncio.all_tasks())
    seen: list[int] = []
    transport.on_send = lambda r: seen.append(len(asyncio.all_tasks()))
    pulled = 0

    def items() -> Any:
        nonlocal pulled
        for _ in range(10_000):
            pulled += 1
            yield request

    outcomes = await client.run_many(items(), concurrency=8)
    assert len(outcomes) == 10_000
    assert pulled == 10_000
    assert all(o.ok for o in outcomes)
    assert len(seen) == 10_000
    assert max(seen) <= baseline + 8
    assert max(seen) == baseline + 8  # the workers did run side by side
    assert len(asyncio.all_tasks()) == baseline


async def test_cancelling_run_many_cancels_its_workers(make_client: MakeClient) -> None:
    never = asyncio.Event()

    async def stuck(request: HttpRequest) -> HttpResponse:
        await never.wait()
        raise AssertionError("unreachable")

    transport = ScriptedTransport(stuck)
    client = make_client(transport)
    baseline = len(asyncio.all_tasks())
    task = asyncio.create_task(client.run_many(create_items(100), concurrency=6))
    for _ in range(50):
        await asyncio.sleep(0)
        if transport.in_flight == 6:
            break
    assert transport.in_flight == 6
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert transport.cancelled == 6
    assert transport.in_flight == 0
    assert len(transport.meeting_requests) == 6
    assert len(asyncio.all_tasks()) == baseline


# --- on_attempt ---


async def test_on_attempt_reports_every_attempt(make_client: MakeClient) -> None:
    attempts: list[Attempt] = []
    transport = ScriptedTransport(answers=[raw(b"", status=503), fail(10000429, "busy")])
    client = make_client(transport, on_attempt=attempts.append)
    await client.cancel_meeting(a_cancel())
    assert [(a.endpoint, a.attempt, a.status, a.error) for a in attempts] == [
        ("cancel", 1, 503, "ServerError"),
        ("cancel", 2, 200, "RateLimitError"),
        ("cancel", 3, 200, None),
    ]
    assert attempts[1].error_code == 10000429


# --- client-side rate limit ---


async def test_calls_per_minute_caps_each_interface(
    make_client: MakeClient, clock: FakeClock, sleep: RecordingSleep
) -> None:
    sent_at: list[tuple[str, float]] = []
    transport = ScriptedTransport()
    transport.on_send = lambda r: sent_at.append((r.endpoint, clock.now))
    client = make_client(transport, calls_per_minute=3)
    for _ in range(7):
        await client.cancel_meeting(a_cancel())
    await client.modify_meeting(a_modify())  # another interface: not held back
    cancels = [t for e, t in sent_at if e == "cancel"]
    for i in range(len(cancels) - 3):
        assert cancels[i + 3] - cancels[i] >= 60
    assert sent_at[-1] == ("modify", cancels[-1])


async def test_calls_per_minute_holds_concurrent_calls_in_virtual_time(
    make_client: MakeClient,
) -> None:
    vt = VirtualTime()
    sent_at: list[float] = []
    transport = ScriptedTransport(pause=False)
    transport.on_send = lambda r: sent_at.append(vt.now)
    client = make_client(transport, calls_per_minute=3, clock=vt.clock, sleep=vt.sleep)
    tasks = [asyncio.create_task(client.cancel_meeting(a_cancel())) for _ in range(10)]
    await vt.run(tasks)
    assert len(sent_at) == 10
    assert sorted(sent_at) == [0.0] * 3 + [60.5] * 3 + [121.0] * 3 + [181.5]
    for i in range(len(sent_at) - 3):
        assert sorted(sent_at)[i + 3] - sorted(sent_at)[i] >= 60


# --- lifetime ---


async def test_aclose_closes_a_given_transport_once(make_client: MakeClient) -> None:
    transport = ScriptedTransport()
    client = make_client(transport)
    await client.cancel_meeting(a_cancel())
    await client.aclose()
    await client.aclose()
    assert transport.closed == 1
    with pytest.raises(TransportError):
        await client.cancel_meeting(a_cancel())
    assert len(transport.meeting_requests) == 1


async def test_async_with_closes(credentials: Credentials) -> None:
    transport = ScriptedTransport()
    async with MeetingClient(
        credentials=credentials, base_url=BASE_URL, transport=transport, calls_per_minute=None
    ) as client:
        await client.cancel_meeting(a_cancel())
    assert transport.closed == 1


async def test_a_given_token_provider_is_not_closed(make_client: MakeClient) -> None:
    token_transport = ScriptedTransport()
    provider = TokenProvider(
        Credentials(eid="e", secret="s"), base_url=BASE_URL, transport=token_transport
    )
    meeting_transport = ScriptedTransport()
    client = make_client(meeting_transport, token_provider=provider)
    await client.aclose()
    assert meeting_transport.closed == 1
    assert token_transport.closed == 0


async def test_default_transport_is_aiohttp_and_closes(credentials: Credentials) -> None:
    from yzj_meeting import AiohttpTransport

    client = MeetingClient(credentials=credentials)
    assert isinstance(client.transport, AiohttpTransport)
    await client.aclose()


def test_outcome_day_matches_the_start() -> None:
    model = a_create(start_date=START + timedelta(days=1), end_date=END + timedelta(days=1))
    assert build(model).day == model.start_date
