"""Sync against the in-memory emulator: calls made, journal kept, failures and doubt handled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.bulk import Progress
from yzj_meeting.client import MeetingClient
from yzj_meeting.errors import ValidationError
from yzj_meeting.fake import STATUS_CANCELLED, FakeService, Faults
from yzj_meeting.retry import RetryPolicy
from yzj_meeting.sync.apply import SyncResult, apply, sync
from yzj_meeting.sync.journal import Intent, Journal, target_name
from yzj_meeting.sync.plan import plan

from . import ALICE, BOB, CAROL, entries, make_client, meeting_calls, series, single


@pytest.fixture
def service() -> FakeService:
    return FakeService(seed=7)


@pytest.fixture
async def client(service: FakeService) -> AsyncIterator[MeetingClient]:
    async with make_client(service) as c:
        yield c


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with await Journal.open(tmp_path / "journal.sqlite3", target_name("http://x", "e")) as j:
        yield j


SCHEDULE = [
    single("a"),
    single(
        "b",
        title="Budget",
        attendees=[CAROL],
        start="2026-12-02T14:00:00+08:00",
        end="2026-12-02T15:00:00+08:00",
    ),
    series("s"),
]


def live(service: FakeService, title: str) -> list[Any]:
    return [
        m for m in service.meetings.values() if m.title == title and m.status != STATUS_CANCELLED
    ]


async def run(
    client: MeetingClient, journal: Journal, records: list[dict[str, Any]], **kwargs: Any
) -> SyncResult:
    return await sync(client, journal, entries(*records), **kwargs)


async def test_first_sync_creates_everything_and_maps_it(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    result = await run(client, journal, SCHEDULE)
    assert result.counts() == {
        "created": 3,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert result.ok
    calls = meeting_calls(service)
    assert sorted(c for c in calls if c != "queryByDay") == ["create", "create", "repeatMeeting"]
    # Adopt before create: each of the three days looked at once, before any create.
    assert calls[:3] == ["queryByDay"] * 3
    rows = await journal.rows()
    assert service.meetings[rows["a"].meeting_id].title == "Meeting a"  # type: ignore[index]
    assert service.meetings[rows["b"].meeting_id].actors == [CAROL]  # type: ignore[index]
    occurrences = [m for m in service.meetings.values() if m.title == "Series s"]
    assert len(occurrences) == 4  # Mondays 7, 14, 21, 28 December
    assert rows["s"].meeting_id == occurrences[0].batch_id
    assert set(rows["s"].ids) == {m.id for m in occurrences}


async def test_unchanged_items_make_no_call(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, SCHEDULE)
    before = len(service.calls)
    result = await run(client, journal, SCHEDULE)
    assert result.counts()["unchanged"] == 3
    assert result.counts()["created"] == 0
    assert len(service.calls) == before


async def test_changes_are_modified_with_attendee_lists(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, SCHEDULE)
    before = len(service.calls)
    changed = [
        single("a", attendees=[BOB, CAROL], place=None),
        SCHEDULE[1],
        series("s", title="Weekly sync", attendees=[ALICE]),
    ]
    result = await run(client, journal, changed)
    assert result.counts() == {
        "created": 0,
        "adopted": 0,
        "modified": 2,
        "cancelled": 0,
        "unchanged": 1,
        "failed": 0,
    }
    calls = {c.endpoint: c.body for c in service.calls[before:]}
    assert set(calls) == {"modify", "batchModify"}
    assert calls["modify"] is not None
    assert calls["modify"]["addActors"] == [CAROL]
    assert calls["modify"]["delActors"] == [ALICE]
    assert "meetingPlace" not in calls["modify"]  # cleared: a full replace
    assert calls["batchModify"] is not None
    assert calls["batchModify"]["delActors"] == [CAROL]
    assert "batchId" not in calls["batchModify"]
    (a,) = live(service, "Meeting a")
    assert (a.actors, a.meeting_place) == ([BOB, CAROL], None)
    assert all(m.actors == [ALICE] for m in live(service, "Weekly sync"))
    assert len(live(service, "Weekly sync")) == 4
    assert (await run(client, journal, changed)).counts()["unchanged"] == 3


async def test_removed_keys_are_cancelled_only_with_prune(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, SCHEDULE)
    before = len(service.calls)
    result = await run(client, journal, SCHEDULE[1:2])
    assert (result.kept, result.counts()["cancelled"]) == (2, 0)
    assert len(service.calls) == before
    result = await run(client, journal, SCHEDULE[1:2], prune=True)
    assert result.counts() == {
        "created": 0,
        "adopted": 0,
        "modified": 0,
        "cancelled": 2,
        "unchanged": 1,
        "failed": 0,
    }
    assert sorted(meeting_calls(service)[-2:]) == ["batchCancel", "cancel"]
    assert live(service, "Meeting a") == []
    assert live(service, "Series s") == []
    assert set(await journal.rows()) == {"b"}


async def test_single_to_series_is_cancel_then_create(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, [single("a")])
    result = await run(client, journal, [series("a", title="Meeting a")])
    assert result.counts()["modified"] == 1
    assert meeting_calls(service)[-2:] == ["cancel", "repeatMeeting"]
    assert len(live(service, "Meeting a")) == 4
    row = await journal.get("a")
    assert row is not None
    assert row.series


async def test_a_refused_item_fails_alone_and_leaves_no_intent(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, SCHEDULE)
    rows = await journal.rows()
    service.meetings[rows["a"].meeting_id].status = STATUS_CANCELLED  # type: ignore[index]
    progress: list[Progress] = []
    result = await run(
        client,
        journal,
        [single("a", title="Renamed"), single("c"), *SCHEDULE[1:]],
        on_progress=progress.append,
    )
    assert result.counts() == {
        "created": 1,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 2,
        "failed": 1,
    }
    (error,) = result.errors
    assert error.key == "a"
    assert error.action == "modify"
    assert error.where == "test.json:1"
    assert "cancelled" in error.error
    assert "failed: " in str(error)
    row = await journal.get("a")
    assert row is not None
    assert row.pending is None  # the server refused: nothing in doubt
    assert progress[-1] == Progress(2, 1, 2)


async def test_lost_create_answer_stays_in_doubt_then_is_adopted(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    service.faults = Faults(script=["ok", "drop_after"])  # created, but the answer is lost
    result = await run(client, journal, [single("a")])
    assert result.counts()["failed"] == 1
    assert "OutcomeUnknownError" in result.errors[0].error
    # never re-created blindly in the same run
    assert meeting_calls(service) == ["queryByDay", "create"]
    row = await journal.get("a")
    assert row is not None
    assert row.in_doubt

    result = await run(client, journal, [single("a")])
    assert result.counts()["created"] == 1
    # looked, found, adopted
    assert meeting_calls(service)[2:] == ["queryByDay", "detail"]
    (meeting,) = live(service, "Meeting a")
    row = await journal.get("a")
    assert row is not None
    assert (row.meeting_id, row.pending) == (meeting.id, None)
    assert (await run(client, journal, [single("a")])).counts()["unchanged"] == 1


async def test_adopted_meeting_is_then_modified_if_the_entry_changed(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    service.faults = Faults(script=["ok", "drop_after"])
    await run(client, journal, [single("a")])
    result = await run(client, journal, [single("a", attendees=[CAROL])])
    assert result.counts()["modified"] == 1
    assert meeting_calls(service)[2:] == ["queryByDay", "detail", "modify"]
    (meeting,) = live(service, "Meeting a")
    assert meeting.actors == [CAROL]


async def test_create_that_never_happened_is_created_after_the_lookup(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    service.faults = Faults(script=["ok", "drop_before"])  # the server never acted
    assert (await run(client, journal, [series("s")])).counts()["failed"] == 1
    result = await run(client, journal, [series("s")])
    assert result.counts()["created"] == 1
    assert meeting_calls(service)[2:] == ["queryByDay", "repeatMeeting"]
    assert len(live(service, "Series s")) == 4


async def test_twin_keys_in_doubt_adopt_different_meetings(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    twins = [single("a", title="Same"), single("b", title="Same")]
    service.faults = Faults(script=["ok", "drop_after", "drop_after"])
    assert (await run(client, journal, twins, concurrency=2)).counts()["failed"] == 2
    result = await run(client, journal, twins, concurrency=2)
    assert result.counts()["created"] == 2
    assert meeting_calls(service).count("create") == 2
    rows = await journal.rows()
    assert rows["a"].meeting_id != rows["b"].meeting_id
    assert {rows["a"].meeting_id, rows["b"].meeting_id} == {m.id for m in live(service, "Same")}


async def test_in_doubt_create_of_a_removed_key_is_adopted_then_pruned(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    service.faults = Faults(script=["ok", "drop_after"])
    await run(client, journal, [single("a")])
    result = await run(client, journal, [], prune=True)
    assert result.counts()["cancelled"] == 1
    assert live(service, "Meeting a") == []
    assert await journal.rows() == {}


async def test_unconfirmed_modify_is_completed_by_the_next_run(
    service: FakeService, journal: Journal
) -> None:
    async with make_client(service, retry=RetryPolicy(max_attempts=1)) as client:
        await run(client, journal, [single("a", attendees=[ALICE, BOB])])
        service.faults = Faults(script=["drop_after"])  # modified, answer lost, no retry
        result = await run(client, journal, [single("a", attendees=[BOB, CAROL])])
        assert result.counts()["failed"] == 1
        # The schedule changes again before the next run.
        result = await run(client, journal, [single("a", attendees=[BOB])])
        assert result.counts()["modified"] == 1
        (meeting,) = live(service, "Meeting a")
        assert meeting.actors == [BOB]
        assert service.calls[-1].body is not None
        assert set(service.calls[-1].body["delActors"]) == {ALICE, CAROL}
        assert (await run(client, journal, [single("a", attendees=[BOB])])).counts()[
            "unchanged"
        ] == 1


async def test_cancel_in_doubt_is_looked_up(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, [single("a"), single("b")])
    # Two cancels were sent and the process died before either outcome was recorded; one of
    # them had reached the server.
    await journal.begin("a", Intent(op="cancel"))
    await journal.begin("b", Intent(op="cancel"))
    (b,) = live(service, "Meeting b")
    b.status = STATUS_CANCELLED
    before = len(service.calls)
    result = await run(client, journal, [single("a"), single("b")])
    # a was still there: kept; b was cancelled: created again, as the schedule wants it.
    assert result.counts() == {
        "created": 1,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 1,
        "failed": 0,
    }
    assert sorted(meeting_calls(service)[len(meeting_calls(service)) - 4 :]) == [
        "create",
        "queryByDay",
        "queryByDay",
        "queryByDay",  # the day read before any create, for adoption
    ]
    assert len(service.calls) - before == 4
    assert len(live(service, "Meeting a")) == len(live(service, "Meeting b")) == 1


async def test_cancel_in_doubt_of_a_pruned_key(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    await run(client, journal, [single("a"), single("b")])
    await journal.begin("a", Intent(op="cancel"))
    await journal.begin("b", Intent(op="cancel"))
    (a,) = live(service, "Meeting a")
    a.status = STATUS_CANCELLED
    result = await run(client, journal, [], prune=True)
    assert result.counts()["cancelled"] == 2
    assert live(service, "Meeting b") == []
    assert await journal.rows() == {}


async def test_concurrency_is_bounded_and_validated(
    client: MeetingClient, journal: Journal, service: FakeService
) -> None:
    many = [single(f"k{i}", title=f"T{i}") for i in range(40)]
    service.faults = Faults(latency=0.005)
    in_flight = peak = 0
    original = client.call  # the sync sends every model through call()

    async def counting(model: Any, **kwargs: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(model, **kwargs)
        finally:
            in_flight -= 1

    client.call = counting  # type: ignore[method-assign]
    result = await run(client, journal, many, concurrency=5)
    assert result.counts()["created"] == 40
    assert 1 < peak <= 5
    with pytest.raises(ValidationError):
        await apply(client, journal, plan(entries(single("x")), {}), concurrency=0)
