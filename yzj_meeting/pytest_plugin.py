"""pytest fixtures for testing code that uses yzj_meeting, on the in-memory emulator.

Registered through the ``pytest11`` entry point, so after ``pip install yzj-meeting``::

    async def test_books_standup(yzj_client, yzj_fake):
        meeting_id = await yzj_client.create_meeting(CreateMeeting(...))
        assert yzj_fake.meetings[meeting_id].title == "Stand-up"

``yzj_fake`` is a fresh ``FakeService`` per test (configure faults, clock, rate limit on it);
``yzj_client`` is a ``MeetingClient`` wired to it through ``FakeTransport``, with the client-side
rate limit off and retries that do not sleep. Both fixtures are synchronous, so they work under
any async test runner (pytest-asyncio, anyio).
"""

from __future__ import annotations

import asyncio

import pytest

from .auth import Credentials
from .client import MeetingClient
from .fake import FakeService, FakeTransport
from .retry import RetryPolicy

__all__ = ["yzj_client", "yzj_fake"]


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def yzj_fake() -> FakeService:
    """A fresh in-memory Yunzhijia meeting service."""
    return FakeService(seed=0)


@pytest.fixture
def yzj_client(yzj_fake: FakeService) -> MeetingClient:
    """A ``MeetingClient`` talking to ``yzj_fake`` in process (it holds no socket to close)."""
    return MeetingClient(
        credentials=Credentials(eid="test-eid", secret="test-secret"),
        base_url="http://yzj-fake.invalid",
        transport=FakeTransport(yzj_fake),
        calls_per_minute=None,
        retry=RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0),
        sleep=_no_sleep,
    )
