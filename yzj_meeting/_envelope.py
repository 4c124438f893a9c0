"""One decoder for every answer: HTTP status + ``success``/``errorCode`` -> data or a typed error.

``success`` alone decides: ``success: true`` is success whatever ``errorCode`` says (other
Yunzhijia endpoints answer 100 or 200 on success). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from ._convert import decode_json
from .errors import (
    THROTTLED_ERROR_CODE,
    ApiError,
    AuthError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

__all__ = ["TokenRefused", "decode_envelope", "parse_retry_after"]


class TokenRefused(AuthError):
    """Private signal: the server refused the access token of a call (HTTP 401/403 or a token
    error code). The client renews the token and resends; it never reaches users as such (an
    ``AuthError`` does, when a fresh token is refused too)."""


_MAX_MESSAGE = 500
_NOT_JSON = object()


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked by a ``Retry-After`` header, if it holds a number of seconds."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 3600 else None


def decode_envelope(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    endpoint: str,
    token_error_codes: Container[int],
) -> Any:
    """The ``data`` of a successful answer, or the typed error the answer means.

    HTTP 401/403 or a token error code -> ``TokenRefused`` (an ``AuthError``); HTTP 429 or
    errorCode 10000429 -> ``RateLimitError``; other ``success: false`` -> ``ApiError``; HTTP
    5xx -> ``ServerError``; anything that is not the documented envelope -> ``ProtocolError``.
    """
    if status >= 500:
        raise ServerError(f"HTTP {status}", endpoint=endpoint, status=status)
    if status == 429:
        raise RateLimitError(
            "throttled (HTTP 429)",
            error_code=None,
            endpoint=endpoint,
            status=status,
            retry_after=parse_retry_after(headers),
        )
    if status in (401, 403):
        raise TokenRefused(
            f"access token refused (HTTP {status})",
            error_code=None,
            endpoint=endpoint,
            status=status,
        )
    # The decoder's error holds the whole answer: raised outside the ``except`` so that no
    # ``__context__`` carries it (an answer may echo the token).
    try:
        answer = decode_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        answer = _NOT_JSON
    if answer is _NOT_JSON:
        raise ProtocolError(
            f"answer is not JSON (HTTP {status}, {len(body)} bytes)",
            endpoint=endpoint,
            status=status,
        )
    if type(answer) is not dict:
        raise ProtocolError(
            f"answer is not a JSON object (HTTP {status})", endpoint=endpoint, status=status
        )
    success = answer.get("success")
    if success is True:
        return answer.get("data")
    if success is not False:
        raise ProtocolError(
            f"answer has no boolean 'success' (HTTP {status})", endpoint=endpoint, status=status
        )
    code = answer.get("errorCode")
    if type(code) is str and code.lstrip("-").isdigit():
        code = int(code)
    if type(code) is not int:
        code = None
    message = answer.get("error")
    message = str(message)[:_MAX_MESSAGE] if message is not None else "request refused"
    if code == THROTTLED_ERROR_CODE:
        raise RateLimitError(
            message,
            error_code=code,
            endpoint=endpoint,
            status=status,
            payload=answer,
            retry_after=parse_retry_after(headers),
        )
    cls = TokenRefused if code is not None and code in token_error_codes else ApiError
    raise cls(message, error_code=code, endpoint=endpoint, status=status, payload=answer)
