"""The envelope decoder: HTTP status + ``success``/``errorCode`` -> data or a typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from yzj_meeting import (
    DEFAULT_TOKEN_ERROR_CODES,
    ApiError,
    AuthError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
    YzjError,
)
from yzj_meeting._envelope import decode_envelope, parse_retry_after

CODES = DEFAULT_TOKEN_ERROR_CODES


def decode(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    codes: Any = CODES,
    endpoint: str = "create",
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_envelope(status, headers or {}, raw, endpoint=endpoint, token_error_codes=codes)


def env(success: Any, code: Any = 0, error: Any = None, data: Any = None) -> dict[str, Any]:
    return {"success": success, "errorCode": code, "error": error, "data": data}


# --- success decides ---


@pytest.mark.parametrize("code", [0, 100, 200, 10000429, 10000401, None, "x"])
def test_success_true_is_success_whatever_the_error_code(code: Any) -> None:
    assert decode(env(True, code, data={"meetingId": "m"})) == {"meetingId": "m"}


def test_success_true_without_data_is_none() -> None:
    assert decode({"success": True}) is None
    assert decode(env(True, data=[1, 2])) == [1, 2]


def test_unknown_envelope_fields_are_ignored() -> None:
    assert decode({**env(True, data=1), "traceId": "abc", "extra": {}}) == 1


# --- refusals ---


def test_success_false_is_an_api_error() -> None:
    with pytest.raises(ApiError) as info:
        decode(env(False, 1002, "会议不存在"), endpoint="modify")
    err = info.value
    assert type(err) is ApiError
    assert isinstance(err, YzjError)
    assert err.error_code == 1002
    assert err.message == "会议不存在"
    assert err.endpoint == "modify"
    assert err.status == 200
    assert err.payload == env(False, 1002, "会议不存在")
    assert "modify" in str(err)
    assert "1002" in str(err)


def test_success_false_error_code_as_numeric_string() -> None:
    with pytest.raises(ApiError) as info:
        decode(env(False, "1002", "no"))
    assert info.value.error_code == 1002


@pytest.mark.parametrize("code", [None, "abc", 1.5, [1]])
def test_success_false_without_a_usable_code(code: Any) -> None:
    with pytest.raises(ApiError) as info:
        decode(env(False, code, None))
    assert type(info.value) is ApiError
    assert info.value.error_code is None
    assert info.value.message  # a message even when the server gave none


def test_long_error_messages_are_capped() -> None:
    with pytest.raises(ApiError) as info:
        decode(env(False, 1, "x" * 10_000))
    assert len(info.value.message) <= 500


def test_success_false_on_a_4xx_status_is_an_api_error() -> None:
    with pytest.raises(ApiError) as info:
        decode(env(False, 2001, "bad"), status=400)
    assert info.value.status == 400
    assert info.value.error_code == 2001


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_are_a_refused_token(status: int) -> None:
    for body in (b"", b"<html>denied</html>", json.dumps(env(True)).encode()):
        with pytest.raises(AuthError) as info:
            decode(body, status=status, endpoint="queryByDay")
        assert info.value.status == status
        assert info.value.endpoint == "queryByDay"


@pytest.mark.parametrize("code", sorted(CODES))
def test_token_error_codes_are_auth_errors(code: int) -> None:
    with pytest.raises(AuthError) as info:
        decode(env(False, code, "token invalid"))
    assert info.value.error_code == code


def test_token_error_codes_are_configurable() -> None:
    with pytest.raises(AuthError):
        decode(env(False, 40001, "expired"), codes={40001})
    with pytest.raises(ApiError) as info:
        decode(env(False, 10000401, "expired"), codes={40001})
    assert type(info.value) is ApiError


def test_default_token_error_codes() -> None:
    assert isinstance(CODES, frozenset)
    assert 10000401 in CODES
    assert 10000429 not in CODES


# --- throttling ---


def test_http_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        decode(b"slow down", status=429, headers={"retry-after": "7"})
    err = info.value
    assert isinstance(err, ApiError)
    assert err.retry_after == 7.0
    assert err.status == 429


def test_error_code_10000429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        decode(env(False, 10000429, "请求过于频繁"), headers={"retry-after": "2.5"})
    err = info.value
    assert err.error_code == 10000429
    assert err.retry_after == 2.5
    assert err.message == "请求过于频繁"


def test_throttled_without_retry_after() -> None:
    with pytest.raises(RateLimitError) as info:
        decode(env(False, 10000429, "busy"))
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-1", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("999999", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    assert parse_retry_after({"retry-after": value}) == expected


def test_parse_retry_after_missing() -> None:
    assert parse_retry_after({}) is None


# --- server errors ---


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_a_server_error(status: int) -> None:
    for body in (b"", b"<html>bad gateway</html>", json.dumps(env(True, data=1)).encode()):
        with pytest.raises(ServerError) as info:
            decode(body, status=status, endpoint="cancel")
        err = info.value
        assert isinstance(err, TransportError)
        assert err.status == status
        assert err.endpoint == "cancel"
        assert err.may_have_reached_server is True


# --- not the documented envelope ---


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>ok</html>",
        b"{not json",
        b"\xff\xfe\x00",
        b"[" * 100_000,
    ],
)
def test_not_json_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(body, endpoint="modify")
    assert info.value.endpoint == "modify"
    assert info.value.status == 200


def test_not_json_error_does_not_chain_to_the_answer() -> None:
    # The JSON decoder's error holds the whole body, which may echo the token.
    with pytest.raises(ProtocolError) as info:
        decode(b"<html>accessToken=abc</html>")
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert "abc" not in str(info.value)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_protocol_error(status: int) -> None:
    # The transport does not follow redirects; the answer is not the envelope.
    with pytest.raises(ProtocolError) as info:
        decode(b"", status=status)
    assert info.value.status == status


@pytest.mark.parametrize("value", [[], [env(True)], "ok", 1, None, True])
def test_not_an_object_is_a_protocol_error(value: Any) -> None:
    with pytest.raises(ProtocolError):
        decode(value)


@pytest.mark.parametrize("success", [None, "true", 1, 0, "false", [True]])
def test_no_boolean_success_is_a_protocol_error(success: Any) -> None:
    with pytest.raises(ProtocolError):
        decode(env(success, 0, None, {"meetingId": "m"}))


def test_missing_success_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode({"errorCode": 0, "data": {"meetingId": "m"}})
