"""The SDK against the emulator, both ways in: in process (FakeTransport) and over HTTP on
127.0.0.1 (AiohttpTransport -> the aiohttp emulator). The same tests run through both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from yzj_meeting import (
    SHANGHAI,
    AiohttpTransport,
    ApiError,
    AuthError,
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    Credentials,
    FakeTransport,
    MeetingClient,
    MeetingStatus,
    ModifyMeeting,
    NoticeTime,
    OutcomeUnknownError,
    QueryByDay,
    RateLimitError,
    Repeat,
    RepeatMeeting,
    RequestTimeout,
    RetryPolicy,
    Timeout,
)
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.server import running

CREATOR = "5a67e08d00b0e8dfe4aab4fa"
OTHER = "5a67e08d00b0e8dfe4aab4fb"
DAY = date(2026, 12, 7)  # a Monday


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def meeting(
    title: str = "周会", day: date = DAY, hour: int = 10, **fields: object
) -> CreateMeeting:
    return CreateMeeting(
        openid=CREATOR,
        title=title,
        start_date=at(day, hour),
        end_date=at(day, hour + 1),
        **fields,  # type: ignore[arg-type]
    )


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


Factory = Callable[..., Awaitable[MeetingClient]]


@pytest.fixture(params=["fake", "aiohttp"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Makes clients talking to a given FakeService through the parametrised way in."""
    clients: list[MeetingClient] = []
    servers: list[AbstractAsyncContextManager[str]] = []

    async def factory(service: FakeService, **kwargs: Any) -> MeetingClient:
        options: dict[str, Any] = {
            "credentials": Credentials(eid="eid-1", secret="secret-1"),
            "calls_per_minute": None,
            "sleep": _no_sleep,
        }
        options.update(kwargs)
        if request.param == "fake":
            client = MeetingClient(
                base_url="http://emulator.invalid", transport=FakeTransport(service), **options
            )
        else:
            ctx = running(service)
            base_url = await ctx.__aenter__()
            servers.append(ctx)
            client = MeetingClient(base_url=base_url, transport=AiohttpTransport(), **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
    for ctx in servers:
        await ctx.__aexit__(None, None, None)


async def test_create_then_query_by_day(connect: Factory) -> None:
    service = FakeService(seed=1)
    client = await connect(service)
    first = await client.create_meeting(
        meeting("周会", hour=10, actors=["a1", "a2"], notice_time=NoticeTime.MINUTES_15)
    )
    second = await client.create_meeting(meeting("Design review", hour=9, meeting_place="云8"))
    await client.create_meeting(meeting("next day", day=DAY + timedelta(days=1)))

    day = await client.query_by_day(QueryByDay(DAY))

    assert [m.id for m in day] == [second, first]  # in start order, only that day
    assert day[1].title == "周会"
    assert day[1].start_date == at(DAY, 10)
    assert day[1].notice_time is NoticeTime.MINUTES_15
    assert day[1].meeting_status is MeetingStatus.OPEN
    assert day[0].meeting_place == "云8"
    assert service.meetings[first].actors == ["a1", "a2"]


async def test_modify_is_a_full_replace(connect: Factory) -> None:
    service = FakeService(seed=2)
    client = await connect(service)
    meeting_id = await client.create_meeting(meeting(content="agenda", meeting_place="云8"))

    await client.modify_meeting(
        ModifyMeeting.from_attendees(
            ["a1"],
            ["a2"],
            id=meeting_id,
            openid=CREATOR,
            title="周会 (moved)",
            start_date=at(DAY, 14),
            end_date=at(DAY, 15),
        )
    )

    stored = service.meetings[meeting_id]
    assert stored.title == "周会 (moved)"
    assert stored.content is None
    assert stored.meeting_place is None
    assert stored.actors == ["a2"]
    wire = service.calls[-1].body
    assert wire is not None
    assert (wire["actors"], wire["addActors"], wire["delActors"]) == (["a2"], ["a2"], ["a1"])


async def test_only_the_creator_may_cancel(connect: Factory) -> None:
    service = FakeService(seed=3)
    client = await connect(service)
    meeting_id = await client.create_meeting(meeting())

    with pytest.raises(ApiError) as refused:
        await client.cancel_meeting(CancelMeeting(id=meeting_id, openid=OTHER))
    assert refused.value.endpoint == "cancel"
    assert refused.value.error_code not in (None, 0)

    await client.cancel_meeting(CancelMeeting(id=meeting_id, openid=CREATOR))
    [info] = await client.query_by_day(QueryByDay(DAY))
    assert info.meeting_status is MeetingStatus.DELETED


async def test_unknown_id_is_an_api_error_naming_the_field(connect: Factory) -> None:
    client = await connect(FakeService(seed=4))
    with pytest.raises(ApiError) as refused:
        await client.cancel_meeting(CancelMeeting(id="0" * 24, openid=CREATOR))
    assert "id" in refused.value.message


async def test_series_and_batch_calls(connect: Factory) -> None:
    service = FakeService(seed=5)
    client = await connect(service)
    series = await client.repeat_meeting(
        RepeatMeeting(
            openid=CREATOR,
            title="Weekly",
            start_date=at(DAY, 9),
            end_date=at(DAY, 10),
            repeat=Repeat.WEEKLY,
            repeat_end_date=at(DAY + timedelta(days=28), 0),
        )
    )
    assert len(series.meeting_ids) == 5
    assert series.parent_id == series.meeting_ids[0]
    starts = [service.meetings[i].start_date for i in series.meeting_ids]
    assert starts == sorted(starts)

    third = series.meeting_ids[2]
    await client.batch_modify(
        BatchModify(
            id=third,
            batch_id=series.parent_id,
            openid=CREATOR,
            title="Weekly (new room)",
            start_date=at(DAY + timedelta(days=14), 9),
            end_date=at(DAY + timedelta(days=14), 10),
            repeat=Repeat.WEEKLY,
            repeat_end_date=at(DAY + timedelta(days=28), 0),
        )
    )
    titles = [service.meetings[i].title for i in series.meeting_ids]
    assert titles == [
        "Weekly",
        "Weekly",
        "Weekly (new room)",
        "Weekly (new room)",
        "Weekly (new room)",
    ]

    await client.batch_cancel(BatchCancel(id=series.parent_id, openid=CREATOR))
    for offset in (0, 7, 28):
        [info] = await client.query_by_day(QueryByDay(DAY + timedelta(days=offset)))
        assert info.meeting_status is MeetingStatus.DELETED


async def test_expired_token_is_renewed_transparently(connect: Factory) -> None:
    service = FakeService(seed=6)
    client = await connect(service)
    await client.create_meeting(meeting("one"))
    service.expire_tokens()

    await client.create_meeting(meeting("two", hour=12))

    assert client.token_provider.token_requests == 2
    assert [c.endpoint for c in service.calls if c.endpoint == "create"] == ["create"] * 3
    assert sum(c.acted for c in service.calls if c.endpoint == "create") == 2


async def test_server_throttling_is_retried_then_reported(connect: Factory) -> None:
    service = FakeService(seed=7, calls_per_minute=2, rate_window=3600)
    client = await connect(service, retry=RetryPolicy(max_attempts=3, base_delay=0, max_delay=0))
    await client.query_by_day(QueryByDay(DAY))
    await client.query_by_day(QueryByDay(DAY))
    with pytest.raises(RateLimitError) as throttled:
        await client.query_by_day(QueryByDay(DAY))
    assert throttled.value.error_code == 10000429
    assert sum(c.error_code == 10000429 for c in service.calls) == 3  # three attempts, all refused


async def test_faults_queries_retried_creates_never_duplicated(connect: Factory) -> None:
    service = FakeService(seed=8, faults=Faults(script=["server_error", "drop_before", "ok"]))
    client = await connect(service)
    assert await client.query_by_day(QueryByDay(DAY)) == []  # two faults, then an answer

    service.faults.script = ["drop_after"]  # the create is carried out, the answer lost
    with pytest.raises(OutcomeUnknownError) as unknown:
        await client.create_meeting(meeting("lost answer"))
    assert len(service.meetings) == 1
    found = await client.find_existing(unknown.value.model)
    assert found is not None
    assert found.id in service.meetings


async def test_slow_answer_past_the_timeout_is_a_request_timeout(connect: Factory) -> None:
    service = FakeService(seed=9)
    client = await connect(
        service,
        timeout=Timeout(total=0.2, connect=1.0, read=0.2),
        retry=RetryPolicy(max_attempts=1),
    )
    await client.token_provider.token()
    service.faults.latency = 1.0
    with pytest.raises(RequestTimeout):
        await client.query_by_day(QueryByDay(DAY))


async def test_malformed_answers_to_a_query_are_retried(connect: Factory) -> None:
    service = FakeService(seed=10)
    client = await connect(service)
    await client.create_meeting(meeting("kept"))
    service.faults.script = ["malformed", "malformed"]  # the next two answers are cut in half
    assert [m.title for m in await client.query_by_day(QueryByDay(DAY))] == ["kept"]


async def test_timestamp_far_from_the_server_clock_is_refused(connect: Factory) -> None:
    service = FakeService(seed=11, clock=lambda: at(DAY, 8).timestamp() + 86_400 * 365)
    client = await connect(service)
    with pytest.raises(AuthError) as refused:
        await client.query_by_day(QueryByDay(DAY))
    assert refused.value.endpoint == "getAccessToken"
    assert not any(c.endpoint == "queryByDay" for c in service.calls)
