"""Credentials and TokenProvider: secrecy, scope rules, cache, margin, single flight, renewal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from yzj_meeting import (
    ApiError,
    AuthError,
    ConnectError,
    Credentials,
    ProtocolError,
    RateLimitError,
    ServerError,
    TokenProvider,
    ValidationError,
)

from .support import (
    BASE_URL,
    GET_TOKEN_PATH,
    REFRESH_TOKEN_PATH,
    SECRET,
    TOKEN_PREFIX,
    FakeClock,
    ScriptedTransport,
    body_of,
    fail,
    ok,
    raw,
)

WALL = 1_700_000_000.123  # the injected wall clock, epoch seconds


def provider(
    transport: ScriptedTransport,
    credentials: Credentials | None = None,
    *,
    clock: FakeClock | None = None,
    **kwargs: Any,
) -> TokenProvider:
    return TokenProvider(
        credentials or Credentials(eid="17717", secret=SECRET),
        base_url=BASE_URL,
        transport=transport,
        clock=clock or FakeClock(),
        wall_clock=lambda: WALL,
        **kwargs,
    )


# --- Credentials ---


@pytest.mark.parametrize(
    "creds",
    [
        Credentials(eid="17717", secret=SECRET),
        Credentials(app_id="500123", secret=SECRET, scope="app"),
        Credentials(eid="17717", app_id="500123", secret=SECRET, scope="team"),
    ],
)
def test_credentials_never_show_the_secret(creds: Credentials) -> None:
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert SECRET not in text
    assert "17717" in repr(creds) or "500123" in repr(creds)
    assert SECRET not in repr(TokenProvider(creds, transport=ScriptedTransport()))


def test_resgroupsecret_scope_needs_eid() -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(secret=SECRET)
    assert info.value.field == "eid"
    assert Credentials(eid="e", secret=SECRET).scope == "resGroupSecret"


def test_app_scope_needs_app_id() -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(eid="e", secret=SECRET, scope="app")
    assert info.value.field == "app_id"
    assert Credentials(app_id="a", secret=SECRET, scope="app").eid is None


@pytest.mark.parametrize(
    ("fields", "missing"), [({"app_id": "a"}, "eid"), ({"eid": "e"}, "app_id")]
)
def test_team_scope_needs_eid_and_app_id(fields: dict[str, str], missing: str) -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(secret=SECRET, scope="team", **fields)  # type: ignore[arg-type]
    assert info.value.field == missing


@pytest.mark.parametrize("secret", ["", "   ", None, 12345])
def test_secret_must_be_a_non_empty_string(secret: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(eid="e", secret=secret)
    assert info.value.field == "secret"


@pytest.mark.parametrize(("field", "value"), [("eid", ""), ("eid", 5), ("app_id", " ")])
def test_ids_must_be_non_empty_strings(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(secret=SECRET, scope="team", **{"eid": "e", "app_id": "a", field: value})
    assert info.value.field == field


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Credentials(eid="e", secret=SECRET, scope="admin")  # type: ignore[arg-type]
    assert info.value.field == "scope"
    assert SECRET not in str(info.value)


def test_provider_refuses_what_is_not_credentials() -> None:
    with pytest.raises(ValidationError):
        TokenProvider({"eid": "e", "secret": SECRET}, transport=ScriptedTransport())  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["ftp://x", "yzj.test", "https://x/?a=1", "https://x/#f", 5])
def test_provider_refuses_a_bad_base_url(url: Any) -> None:
    with pytest.raises(ValidationError) as info:
        TokenProvider(
            Credentials(eid="e", secret=SECRET), base_url=url, transport=ScriptedTransport()
        )
    assert info.value.field == "base_url"


# --- the token request ---


async def test_get_access_token_request() -> None:
    transport = ScriptedTransport()
    token = await provider(transport).token()
    assert token == f"{TOKEN_PREFIX}-1"
    [request] = transport.requests
    assert request.method == "POST"
    assert request.url == BASE_URL + GET_TOKEN_PATH
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {
        "eid": "17717",
        "secret": SECRET,
        "timestamp": 1_700_000_000_123,
        "scope": "resGroupSecret",
    }
    assert type(body_of(request)["timestamp"]) is int


async def test_base_url_trailing_slash_is_dropped() -> None:
    transport = ScriptedTransport()
    tokens = TokenProvider(
        Credentials(eid="e", secret=SECRET),
        base_url="http://127.0.0.1:9/",
        transport=transport,
    )
    await tokens.token()
    assert transport.requests[0].url == "http://127.0.0.1:9" + GET_TOKEN_PATH


@pytest.mark.parametrize(
    ("creds", "identity"),
    [
        (
            Credentials(app_id="500123", secret=SECRET, scope="app"),
            {"appId": "500123", "scope": "app"},
        ),
        (
            Credentials(eid="17717", app_id="500123", secret=SECRET, scope="team"),
            {"eid": "17717", "appId": "500123", "scope": "team"},
        ),
    ],
)
async def test_app_and_team_token_requests(creds: Credentials, identity: dict[str, str]) -> None:
    transport = ScriptedTransport()
    await provider(transport, creds).token()
    assert body_of(transport.requests[0]) == {
        **identity,
        "secret": SECRET,
        "timestamp": 1_700_000_000_123,
    }


# --- cache, margin, refresh ---


async def test_token_is_cached_until_the_margin_before_expiry() -> None:
    clock = FakeClock(50.0)
    transport = ScriptedTransport(expire_in=7200)
    tokens = provider(transport, clock=clock, refresh_margin=300)
    first = await tokens.token()
    clock.now = 50.0 + 7200 - 300 - 0.001
    for _ in range(5):
        assert await tokens.token() == first
    assert len(transport.requests) == 1
    assert tokens.token_requests == 1

    clock.now = 50.0 + 7200 - 300
    second = await tokens.token()
    assert second != first
    assert second == f"{TOKEN_PREFIX}-2"
    assert transport.paths() == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH]
    refresh = body_of(transport.requests[1])
    assert refresh == {
        "eid": "17717",
        "refreshToken": "refresh-1",
        "timestamp": 1_700_000_000_123,
        "scope": "resGroupSecret",
    }
    assert SECRET not in transport.requests[1].body.decode()
    assert await tokens.token() == second
    assert tokens.token_requests == 2


async def test_expire_in_is_trusted_not_a_constant() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(expire_in=6400)
    tokens = provider(transport, clock=clock, refresh_margin=300)
    await tokens.token()
    clock.now = 6100 - 0.01
    await tokens.token()
    assert len(transport.requests) == 1
    clock.now = 6100
    await tokens.token()
    assert len(transport.requests) == 2


async def test_short_lived_token_is_kept_for_half_its_life() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(expire_in=200)  # shorter than the 300 s margin
    tokens = provider(transport, clock=clock, refresh_margin=300)
    await tokens.token()
    clock.now = 99.9
    await tokens.token()
    assert len(transport.requests) == 1
    clock.now = 100
    await tokens.token()
    assert len(transport.requests) == 2


async def test_expire_in_as_numeric_string() -> None:
    transport = ScriptedTransport(
        token_answers=[ok({"accessToken": "t-str", "expireIn": "7200", "refreshToken": "r"})]
    )
    assert await provider(transport).token() == "t-str"


async def test_refused_refresh_falls_back_to_get_access_token() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(refuse_refresh=True)
    tokens = provider(transport, clock=clock)
    first = await tokens.token()
    clock.now = 10_000
    second = await tokens.token()
    assert second != first
    assert transport.paths() == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH, GET_TOKEN_PATH]
    assert body_of(transport.requests[2])["secret"] == SECRET


async def test_refresh_failing_in_transit_falls_back_too() -> None:
    clock = FakeClock()
    transport = ScriptedTransport()
    tokens = provider(transport, clock=clock)
    await tokens.token()
    transport.token_answers.append(raw(b"<html>oops</html>"))
    clock.now = 10_000
    assert await tokens.token() == f"{TOKEN_PREFIX}-2"
    assert transport.paths() == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH, GET_TOKEN_PATH]


async def test_answer_without_refresh_token_uses_get_access_token() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(token_answers=[ok({"accessToken": "t1", "expireIn": 7200})])
    tokens = provider(transport, clock=clock)
    assert await tokens.token() == "t1"
    clock.now = 10_000
    await tokens.token()
    assert transport.paths() == [GET_TOKEN_PATH, GET_TOKEN_PATH]


# --- single flight ---


async def test_a_thousand_cold_callers_share_one_token_request() -> None:
    transport = ScriptedTransport()
    tokens = provider(transport)
    results = await asyncio.gather(*(tokens.token() for _ in range(1000)))
    assert set(results) == {f"{TOKEN_PREFIX}-1"}
    assert len(transport.requests) == 1
    assert tokens.token_requests == 1


async def test_callers_at_expiry_share_one_refresh() -> None:
    clock = FakeClock()
    transport = ScriptedTransport()
    tokens = provider(transport, clock=clock)
    await tokens.token()
    clock.now = 10_000
    results = await asyncio.gather(*(tokens.token() for _ in range(300)))
    assert set(results) == {f"{TOKEN_PREFIX}-2"}
    assert transport.paths() == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH]


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    gate = asyncio.Event()

    async def slow(request: Any) -> Any:
        await gate.wait()
        return ok({"accessToken": "t-slow", "expireIn": 7200, "refreshToken": "r"})

    transport = ScriptedTransport(token_answers=[slow])
    tokens = provider(transport)
    impatient = asyncio.ensure_future(tokens.token())
    patient = asyncio.ensure_future(tokens.token())
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(transport.requests) == 1
    impatient.cancel()
    gate.set()
    assert await patient == "t-slow"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert len(transport.requests) == 1


async def test_a_failed_fetch_fails_every_waiter_and_the_next_call_tries_again() -> None:
    transport = ScriptedTransport(token_answers=[ConnectError("refused")])
    tokens = provider(transport)
    results = await asyncio.gather(*(tokens.token() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, ConnectError) for r in results)
    assert len(transport.requests) == 1
    assert await tokens.token() == f"{TOKEN_PREFIX}-1"
    assert len(transport.requests) == 2


# --- renewal after a refusal ---


async def test_renew_gets_one_new_token_for_all_who_saw_the_refusal() -> None:
    transport = ScriptedTransport()
    tokens = provider(transport)
    old = await tokens.token()
    results = await asyncio.gather(*(tokens.renew(old) for _ in range(200)))
    assert set(results) == {f"{TOKEN_PREFIX}-2"}
    assert len(transport.requests) == 2
    # A late caller that saw the old token refused gets the new one without a request.
    assert await tokens.renew(old) == f"{TOKEN_PREFIX}-2"
    assert await tokens.token() == f"{TOKEN_PREFIX}-2"
    assert len(transport.requests) == 2


async def test_renew_with_refused_refresh_falls_back() -> None:
    transport = ScriptedTransport(refuse_refresh=True)
    tokens = provider(transport)
    old = await tokens.token()
    assert await tokens.renew(old) != old
    assert transport.paths() == [GET_TOKEN_PATH, REFRESH_TOKEN_PATH, GET_TOKEN_PATH]


# --- refusals of the token endpoint ---


async def test_refused_credentials_are_an_auth_error() -> None:
    transport = ScriptedTransport(refuse_credentials=True)
    with pytest.raises(AuthError) as info:
        await provider(transport).token()
    err = info.value
    assert isinstance(err, ApiError)
    assert err.endpoint == "getAccessToken"
    assert err.error_code == 1002
    assert "invalid secret" in err.message
    assert SECRET not in str(err)


@pytest.mark.parametrize("status", [401, 403])
async def test_http_refusal_of_the_token_endpoint_is_an_auth_error(status: int) -> None:
    transport = ScriptedTransport(token_answers=[raw(b"", status=status)])
    with pytest.raises(AuthError):
        await provider(transport).token()


async def test_refused_refresh_and_refused_credentials_is_an_auth_error() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(refuse_refresh=True)
    tokens = provider(transport, clock=clock)
    await tokens.token()
    transport.refuse_credentials = True
    clock.now = 10_000
    with pytest.raises(AuthError) as info:
        await tokens.token()
    assert info.value.endpoint == "getAccessToken"


async def test_throttled_token_endpoint_is_a_rate_limit_not_an_auth_error() -> None:
    transport = ScriptedTransport(
        token_answers=[fail(10000429, "请求过于频繁", headers={"retry-after": "3"})]
    )
    with pytest.raises(RateLimitError) as info:
        await provider(transport).token()
    assert not isinstance(info.value, AuthError)
    assert info.value.retry_after == 3.0


async def test_server_error_of_the_token_endpoint_propagates() -> None:
    transport = ScriptedTransport(token_answers=[raw(b"", status=503)])
    with pytest.raises(ServerError):
        await provider(transport).token()


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"accessToken": "", "expireIn": 7200},
        {"accessToken": "t", "expireIn": 0},
        {"accessToken": "t", "expireIn": "soon"},
        {"accessToken": "t"},
        {"accessToken": 5, "expireIn": 7200},
        {"accessToken": "t", "expireIn": 7200, "refreshToken": 5},
    ],
)
async def test_malformed_token_answer_is_a_protocol_error(data: Any) -> None:
    transport = ScriptedTransport(token_answers=[ok(data)])
    with pytest.raises(ProtocolError) as info:
        await provider(transport).token()
    assert info.value.endpoint == "getAccessToken"


async def test_token_endpoint_answer_that_is_not_json() -> None:
    transport = ScriptedTransport(token_answers=[raw(b"<html/>")])
    with pytest.raises(ProtocolError):
        await provider(transport).token()


# --- lifetime ---


async def test_provider_leaves_a_given_transport_open() -> None:
    transport = ScriptedTransport()
    async with provider(transport) as tokens:
        await tokens.token()
    assert transport.closed == 0


async def test_success_with_other_error_codes_is_success() -> None:
    transport = ScriptedTransport(
        token_answers=[
            ok({"accessToken": "t100", "expireIn": 7200, "refreshToken": "r"}, error_code=100)
        ]
    )
    assert await provider(transport).token() == "t100"
