"""The error codes the fake answers with, and the refusal every layer of it raises.

Gateway-level codes follow the gateway's own ``10000429`` pattern (10000 + the HTTP status);
business refusals use codes outside that family so no client mistakes them for a refused token.
"""

from __future__ import annotations

from typing import Final

from ..errors import THROTTLED_ERROR_CODE

__all__ = [
    "INTERNAL_ERROR_CODE",
    "MEETING_CANCELLED_ERROR_CODE",
    "METHOD_ERROR_CODE",
    "NOT_CREATOR_ERROR_CODE",
    "NOT_FOUND_ERROR_CODE",
    "PARAM_ERROR_CODE",
    "SUCCESS_CODE",
    "THROTTLED_ERROR_CODE",
    "TOKEN_ERROR_CODE",
    "TOKEN_REQUEST_ERROR_CODE",
    "UNAVAILABLE_ERROR_CODE",
    "Refusal",
    "param",
]

SUCCESS_CODE: Final = 0
PARAM_ERROR_CODE: Final = 10000400
"""A missing, empty or malformed field, an unknown id, a bad enum value, a bad batchId."""
TOKEN_ERROR_CODE: Final = 10000401
"""The ``accessToken`` of a meeting call is missing, unknown or expired."""
NOT_FOUND_ERROR_CODE: Final = 10000404
METHOD_ERROR_CODE: Final = 10000405
INTERNAL_ERROR_CODE: Final = 10000500
UNAVAILABLE_ERROR_CODE: Final = 10000503
TOKEN_REQUEST_ERROR_CODE: Final = 10001001
"""getAccessToken / refreshToken refused: credentials, refresh token, timestamp or scope."""
NOT_CREATOR_ERROR_CODE: Final = 10002001
"""Only the meeting's creator may change or cancel it."""
MEETING_CANCELLED_ERROR_CODE: Final = 10002002
"""The meeting to modify is cancelled."""


class Refusal(Exception):
    """The service refuses the call: ``code`` and ``message`` go into the envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def param(message: str) -> Refusal:
    """A parameter error (``PARAM_ERROR_CODE``); ``message`` names the field."""
    return Refusal(PARAM_ERROR_CODE, message)
