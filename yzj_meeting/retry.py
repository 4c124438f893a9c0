"""When to try again: a pure decision around ``transport.send``.

``RetryPolicy.next_delay`` looks at the error, whether the request is safe to send twice, the
attempt number and the time spent, and answers a pause in seconds or ``None`` (give up). It
sleeps nothing and reads no clock: the client injects sleep, clock and randomness, so tests run
in zero time.

What is retried:

- a throttled answer (HTTP 429, errorCode 10000429): the server did not act, so any call, after
  the pause it asks for (``Retry-After``) or the backoff, whichever is longer;
- ``ConnectError``: the request never left, so any call;
- other transport failures (timeouts, resets, HTTP 5xx) and malformed answers: only calls that
  are safe to send twice. ``create`` and ``repeatMeeting`` are never resent once they may have
  reached the server (Yunzhijia has no idempotency key); the client raises
  ``OutcomeUnknownError`` instead.
"""

from __future__ import annotations

import attrs

from .errors import RateLimitError, ValidationError, YzjError

__all__ = ["RetryPolicy", "is_retryable"]


def is_retryable(error: YzjError, *, idempotent: bool) -> bool:
    """Whether resending after ``error`` can neither duplicate nor lose a change: the failure
    is transient, and either sending twice is safe or the server did not act."""
    return error.transient and (idempotent or not error.may_have_acted)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValidationError(attribute.name, f"must be a number >= 0, got {value!r}")


def _attempts(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(attribute.name, f"must be an int >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed attempts are retried.

    ``max_attempts`` counts attempts in all (1 = never retry). The pause before attempt n+1 is
    drawn uniformly from ``[0, min(max_delay, base_delay * 2**(n-1))]`` (full jitter), and no
    retry starts once ``deadline`` seconds have passed since the first attempt. With the defaults
    a call gives up within 15 seconds of waiting.
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    base_delay: float = attrs.field(default=0.5, validator=_positive)
    max_delay: float = attrs.field(default=8.0, validator=_positive)
    deadline: float = attrs.field(default=15.0, validator=_positive)

    def backoff(self, attempt: int, rand: float) -> float:
        """Full-jitter pause after failed attempt ``attempt`` (1-based), ``rand`` in [0, 1)."""
        return rand * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))

    def next_delay(
        self, error: YzjError, *, idempotent: bool, attempt: int, elapsed: float, rand: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up."""
        if attempt >= self.max_attempts or not is_retryable(error, idempotent=idempotent):
            return None
        delay = self.backoff(attempt, rand)
        if isinstance(error, RateLimitError):
            asked = error.retry_after
            delay = max(delay, asked if asked is not None else self.base_delay)
        if elapsed + delay > self.deadline:
            return None
        return delay
