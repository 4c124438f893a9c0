"""RetryPolicy: pure decisions, table-driven; the defaults give up within 15 s of waiting."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting import (
    ApiError,
    AuthError,
    ConnectError,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    ValidationError,
    YzjError,
)
from yzj_meeting.retry import is_retryable


def throttled(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError("busy", error_code=10000429, endpoint="x", retry_after=retry_after)


ERRORS: dict[str, YzjError] = {
    "throttled": throttled(),
    "connect": ConnectError("refused"),
    "network": NetworkError("reset"),
    "timeout": RequestTimeout("slow"),
    "server": ServerError("HTTP 502", status=502),
    "protocol": ProtocolError("not json"),
    "unknown": OutcomeUnknownError("?", endpoint="create", request=None, model=None, day=None),
    "api": ApiError("no", error_code=2001, endpoint="x"),
    "auth": AuthError("no", error_code=None, endpoint="x", status=401),
    "validation": ValidationError("title", "empty"),
}

# error -> (retryable when idempotent, retryable when not)
RETRYABLE = {
    "throttled": (True, True),
    "connect": (True, True),
    "network": (True, False),
    "timeout": (True, False),
    "server": (True, False),
    "protocol": (True, False),
    "unknown": (False, False),
    "api": (False, False),
    "auth": (False, False),
    "validation": (False, False),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_is_retryable(name: str) -> None:
    idempotent, not_idempotent = RETRYABLE[name]
    assert is_retryable(ERRORS[name], idempotent=True) is idempotent
    assert is_retryable(ERRORS[name], idempotent=False) is not_idempotent


POLICY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, deadline=15.0)

# (error, idempotent, attempt, elapsed, rand) -> expected delay or None
TABLE: list[tuple[str, bool, int, float, float, float | None]] = [
    ("server", True, 1, 0.0, 0.5, 0.25),
    ("server", True, 2, 0.0, 0.5, 0.5),
    ("server", True, 3, 0.0, 0.5, 1.0),
    ("server", True, 3, 0.0, 0.0, 0.0),
    ("server", True, 4, 0.0, 0.5, None),  # max_attempts reached
    ("server", False, 1, 0.0, 0.5, None),  # may have acted: not for a create
    ("network", True, 1, 0.0, 1.0, 0.5),
    ("network", False, 1, 0.0, 1.0, None),
    ("timeout", True, 2, 0.0, 1.0, 1.0),
    ("timeout", False, 2, 0.0, 1.0, None),
    ("protocol", True, 1, 0.0, 0.5, 0.25),
    ("protocol", False, 1, 0.0, 0.5, None),
    ("connect", False, 1, 0.0, 0.5, 0.25),
    ("connect", False, 3, 0.0, 0.5, 1.0),
    ("connect", False, 4, 0.0, 0.5, None),
    ("throttled", False, 1, 0.0, 0.2, 0.5),  # no Retry-After: at least base_delay
    ("throttled", True, 3, 0.0, 1.0, 2.0),  # backoff longer than base_delay
    ("unknown", True, 1, 0.0, 0.5, None),
    ("api", True, 1, 0.0, 0.5, None),
    ("auth", True, 1, 0.0, 0.5, None),
    ("validation", True, 1, 0.0, 0.5, None),
    ("server", True, 1, 14.75, 0.5, 0.25),  # ends exactly at the deadline
    ("server", True, 1, 14.76, 0.5, None),  # would end past the deadline
    ("connect", False, 2, 15.0, 0.0, 0.0),
    ("connect", False, 2, 15.01, 0.0, None),
]


@pytest.mark.parametrize(("name", "idempotent", "attempt", "elapsed", "rand", "expected"), TABLE)
def test_next_delay(
    name: str, idempotent: bool, attempt: int, elapsed: float, rand: float, expected: float | None
) -> None:
    delay = POLICY.next_delay(
        ERRORS[name], idempotent=idempotent, attempt=attempt, elapsed=elapsed, rand=rand
    )
    assert delay == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("retry_after", "rand", "expected"),
    [(7.0, 0.5, 7.0), (0.0, 0.5, 0.25), (0.1, 1.0, 0.5), (14.0, 0.0, 14.0), (16.0, 0.0, None)],
)
def test_throttled_honours_retry_after(
    retry_after: float, rand: float, expected: float | None
) -> None:
    delay = POLICY.next_delay(
        throttled(retry_after), idempotent=False, attempt=1, elapsed=0.0, rand=rand
    )
    assert delay == expected


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (30, 8.0)]
)
def test_backoff_is_full_jitter_capped_by_max_delay(attempt: int, ceiling: float) -> None:
    assert POLICY.backoff(attempt, 0.0) == 0.0
    assert POLICY.backoff(attempt, 0.999999) == pytest.approx(ceiling * 0.999999)
    assert POLICY.backoff(attempt, 0.5) == pytest.approx(ceiling / 2)


def test_one_attempt_never_retries() -> None:
    once = RetryPolicy(max_attempts=1)
    for error in ERRORS.values():
        assert once.next_delay(error, idempotent=True, attempt=1, elapsed=0, rand=0.5) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"max_attempts": 1.5},
        {"max_attempts": "3"},
        {"base_delay": -0.1},
        {"base_delay": "1"},
        {"max_delay": -1},
        {"deadline": -1},
        {"deadline": True},
    ],
)
def test_policy_refuses_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**kwargs)
    assert info.value.field == next(iter(kwargs))


@given(
    errors=st.lists(
        st.sampled_from(["server", "connect", "throttled", "throttled-after"]),
        min_size=1,
        max_size=20,
    ),
    rands=st.lists(st.floats(min_value=0, max_value=0.999999), min_size=20, max_size=20),
    asked=st.floats(min_value=0, max_value=3599),
    spent=st.floats(min_value=0, max_value=5),
)
def test_default_policy_gives_up_within_15_seconds_of_waiting(
    errors: list[str], rands: list[float], asked: float, spent: float
) -> None:
    policy = RetryPolicy()
    waited = 0.0
    elapsed = 0.0
    for attempt, name in enumerate(errors, start=1):
        error = throttled(asked) if name == "throttled-after" else ERRORS[name]
        delay = policy.next_delay(
            error, idempotent=True, attempt=attempt, elapsed=elapsed, rand=rands[attempt - 1]
        )
        if delay is None:
            break
        assert delay >= 0
        waited += delay
        elapsed += delay + spent
    assert waited <= 15.0
    assert attempt <= 4
