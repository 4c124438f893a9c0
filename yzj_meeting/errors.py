"""Every error the SDK raises on purpose.

::

    YzjError
    ├── ValidationError (also ValueError)   bad input, found before anything is sent
    ├── ApiError                            the server answered ``success: false``
    │   ├── AuthError                       credentials refused, or a fresh token refused too
    │   └── RateLimitError                  throttled (HTTP 429 or errorCode 10000429)
    ├── TransportError                      the exchange could not be completed
    │   ├── ConnectError                    never left (refused, DNS, connect/pool timeout)
    │   ├── NetworkError                    reset or closed after the request may have been sent
    │   ├── RequestTimeout                  no answer in time after the request was sent
    │   ├── ServerError                     HTTP 5xx
    │   └── OutcomeUnknownError             a create may or may not have happened: reconcile first
    └── ProtocolError                       the answer was not the documented envelope

``YzjError.may_have_acted`` says whether the server may have acted on the request (the one
place that decides it); ``TransportError.may_have_reached_server`` is the same answer.
No message, attribute or ``repr`` here ever carries the access token or the secret: URLs are
never stored, only endpoint names.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_TOKEN_ERROR_CODES",
    "THROTTLED_ERROR_CODE",
    "ApiError",
    "AuthError",
    "ConnectError",
    "NetworkError",
    "OutcomeUnknownError",
    "ProtocolError",
    "RateLimitError",
    "RequestTimeout",
    "ServerError",
    "TransportError",
    "ValidationError",
    "YzjError",
    "may_have_acted",
]

THROTTLED_ERROR_CODE = 10000429
"""``errorCode`` of a throttled call ("请求过于频繁"): the server did not act on it."""

DEFAULT_TOKEN_ERROR_CODES: frozenset[int] = frozenset({10000401, 10000403})
"""``errorCode`` values read as "the access token was refused".

No public Yunzhijia source lists the codes of a refused or expired token. These follow the
gateway's own pattern (``10000429`` is its throttling code, so ``10000`` + the HTTP status) and
are an assumption: pass ``token_error_codes=`` to ``MeetingClient`` when your deployment answers
otherwise. HTTP 401 and 403 are always read as a refused token.
"""


class YzjError(Exception):
    """Base of every error the SDK raises on purpose.

    ``may_have_acted`` is the one answer to "may the server have carried out the request that
    ended in this error?", read by the retry policy, the client and the sync. ``transient``
    says whether trying again may succeed at all.
    """

    may_have_acted: bool = False
    transient: bool = False


class ValidationError(YzjError, ValueError):
    """Bad input, found before anything was sent. ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ApiError(YzjError):
    """The server answered ``success: false``.

    ``payload`` is the decoded answer as received (it never holds the token: tokens travel in
    the URL, and token endpoint answers are not kept).
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None,
        endpoint: str,
        status: int = 200,
        payload: Any = None,
    ) -> None:
        super().__init__(f"{endpoint}: {message} (errorCode={error_code}, HTTP {status})")
        self.message = message
        self.error_code = error_code
        self.endpoint = endpoint
        self.status = status
        self.payload = payload


class AuthError(ApiError):
    """The token endpoint refused the credentials, or a freshly issued token was refused too."""


class RateLimitError(ApiError):
    """The server throttled the call and did not act on it; ``retry_after`` is its asked pause."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None,
        endpoint: str,
        status: int = 200,
        payload: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, error_code=error_code, endpoint=endpoint, status=status, payload=payload
        )
        self.retry_after = retry_after


class TransportError(YzjError):
    """The request could not be completed."""

    may_have_acted = True
    transient = True

    @property
    def may_have_reached_server(self) -> bool:
        """Whether the request may have reached the server (``may_have_acted``)."""
        return self.may_have_acted

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(f"{endpoint}: {message}" if endpoint else message)
        self.message = message
        self.endpoint = endpoint


class ConnectError(TransportError):
    """No connection was made: the request provably never left, so resending is always safe."""

    may_have_acted = False


class NetworkError(TransportError):
    """The connection broke after the request may have been sent."""


class RequestTimeout(TransportError):
    """No complete answer arrived in time; the server may have acted."""


class ServerError(TransportError):
    """The server answered with an HTTP 5xx status."""

    def __init__(self, message: str, *, endpoint: str = "", status: int) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status = status


class OutcomeUnknownError(TransportError):
    """A non-repeatable write (create, repeatMeeting) may or may not have been carried out.

    Resending it blindly could create the meeting twice. ``request`` is the request descriptor,
    ``model`` the model it was built from and ``day`` the instant whose day to search; use
    ``MeetingClient.find_existing(error.model)`` before sending it again.
    """

    transient = False  # only reconciling, not resending, can settle it

    def __init__(self, message: str, *, endpoint: str, request: Any, model: Any, day: Any) -> None:
        super().__init__(message, endpoint=endpoint)
        self.request = request
        self.model = model
        self.day = day


class ProtocolError(YzjError):
    """The answer was not the documented envelope (not JSON, wrong types, missing fields)."""

    may_have_acted = True
    transient = True

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(f"{endpoint}: {message}" if endpoint else message)
        self.message = message
        self.endpoint = endpoint
        self.status = status


def may_have_acted(error: BaseException) -> bool:
    """``error.may_have_acted`` for the SDK's errors; anything else (cancellation included) is
    taken as "it may have": the safe answer for a write."""
    return error.may_have_acted if isinstance(error, YzjError) else True
