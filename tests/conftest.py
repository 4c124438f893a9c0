"""Fixtures shared by the core tests: credentials, a fake clock and sleep, client factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from yzj_meeting import Credentials, MeetingClient

from .support import BASE_URL, SECRET, FakeClock, RecordingSleep, ScriptedTransport

settings.register_profile(
    "yzj-core",
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("yzj-core")


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(eid="17717", secret=SECRET)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def sleep(clock: FakeClock) -> RecordingSleep:
    return RecordingSleep(clock)


@pytest.fixture
def transport() -> ScriptedTransport:
    return ScriptedTransport()


MakeClient = Callable[..., MeetingClient]


@pytest.fixture
async def make_client(
    credentials: Credentials, clock: FakeClock, sleep: RecordingSleep
) -> AsyncIterator[MakeClient]:
    """``make_client(transport, **overrides)``: a client with injected clock, sleep, random.

    The client-side rate limit is off unless asked for, and every client is closed at teardown.
    """
    made: list[MeetingClient] = []

    def make(transport: Any, **kwargs: Any) -> MeetingClient:
        if "token_provider" not in kwargs:
            kwargs.setdefault("credentials", credentials)
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", sleep)
        kwargs.setdefault("random", lambda: 0.5)
        kwargs.setdefault("calls_per_minute", None)
        client = MeetingClient(transport=transport, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
