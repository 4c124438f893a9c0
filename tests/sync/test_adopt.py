"""Adopt before create and twin-safe reconciliation (issue #11), against the in-memory emulator.

Calls are counted on the emulator; what each key holds is read from the emulator's meetings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.client import MeetingClient
from yzj_meeting.fake import STATUS_CANCELLED, FakeService, Faults
from yzj_meeting.sync.adopt import Finder, Probe
from yzj_meeting.sync.apply import SyncResult, sync
from yzj_meeting.sync.journal import Journal, target_name
from yzj_meeting.sync.match import service_signature, signature

from . import ALICE, BOB, CAROL, entries, make_client, meeting_calls, series, single

TARGET = target_name("http://x", "e")


@pytest.fixture
def service() -> FakeService:
    return FakeService(seed=5)


@pytest.fixture
async def client(service: FakeService) -> AsyncIterator[MeetingClient]:
    async with make_client(service) as c:
        yield c


class Journals:
    """A fresh journal file per ``open()``: each one is a lost (or another machine's) journal."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.count = 0

    async def sync(
        self,
        client: MeetingClient,
        records: list[dict[str, Any]],
        *,
        fresh: bool = False,
        **kw: Any,
    ) -> SyncResult:
        if fresh:
            self.count += 1
        path = self.tmp_path / f"journal-{self.count}.sqlite3"
        async with await Journal.open(path, TARGET) as journal:
            return await sync(client, journal, entries(*records), **kw)

    async def rows(self) -> dict[str, Any]:
        path = self.tmp_path / f"journal-{self.count}.sqlite3"
        async with await Journal.open(path, TARGET) as journal:
            return await journal.rows()


@pytest.fixture
def journals(tmp_path: Path) -> Journals:
    return Journals(tmp_path)


def live(service: FakeService, title: str | None = None) -> list[Any]:
    return [
        m
        for m in service.meetings.values()
        if m.status != STATUS_CANCELLED and (title is None or m.title == title)
    ]


SCHEDULE = [
    single("a"),
    single("b", title="Budget", attendees=[CAROL], start="2026-12-02T14:00:00+08:00",
           end="2026-12-02T15:00:00+08:00", room_id="R101"),
    single("c", title="Standup", start="2026-12-02T09:00:00+08:00",
           end="2026-12-02T09:15:00+08:00", content="daily", type="sign"),
    series("s"),
]  # fmt: skip


async def test_a_lost_journal_costs_lookups_not_duplicates(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    assert (await journals.sync(client, SCHEDULE)).counts()["created"] == 4
    meetings = len(service.meetings)
    before = len(service.calls)
    result = await journals.sync(client, SCHEDULE, fresh=True)  # the journal is lost
    assert result.counts() == {
        "created": 0,
        "adopted": 4,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert len(service.meetings) == meetings  # nothing created
    calls = Counter(c.endpoint for c in service.calls[before:])
    # three distinct days, one detail per candidate, and the three other days of the series
    assert calls == {"queryByDay": 3 + 3, "detail": 4}
    rows = await journals.rows()
    assert {k: service.meetings[r.meeting_id].title for k, r in rows.items()} == {
        "a": "Meeting a",
        "b": "Budget",
        "c": "Standup",
        "s": "Series s",
    }
    before = len(service.calls)
    again = await journals.sync(client, SCHEDULE)
    assert again.counts()["unchanged"] == 4
    assert len(service.calls) == before  # adopted keys are journaled: no lookup again


@pytest.mark.parametrize(("desired", "existing"), [(3, 2), (2, 3), (2, 2), (1, 0)])
async def test_n_identical_desired_and_m_identical_live_adopt_min_n_m(
    client: MeetingClient, service: FakeService, journals: Journals, desired: int, existing: int
) -> None:
    same = {"title": "Interview", "attendees": [ALICE]}
    if existing:
        await journals.sync(client, [single(f"old{i}", **same) for i in range(existing)])
    result = await journals.sync(
        client, [single(f"k{i}", **same) for i in range(desired)], fresh=True
    )
    adopted = min(desired, existing)
    assert (result.adopted, result.created) == (adopted, desired - adopted)
    assert len(live(service, "Interview")) == max(desired, existing)
    rows = await journals.rows()
    assert len({r.meeting_id for r in rows.values()}) == desired  # one meeting per key


async def test_twins_differing_in_place_room_or_attendees_are_never_swapped(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    twin = {"title": "Slot", "start": "2026-12-03T10:00:00+08:00",
            "end": "2026-12-03T11:00:00+08:00"}  # fmt: skip
    a = single("a", **twin, place="Room A", attendees=[ALICE])
    b = single("b", **twin, place="Room B", attendees=[BOB])
    c = single("c", **twin, place="Room B", attendees=[BOB], room_id="R9")
    await journals.sync(client, [b])  # only b's meeting exists
    result = await journals.sync(client, [a, b, c], fresh=True)
    assert (result.adopted, result.created) == (1, 2)
    rows = await journals.rows()
    held = {k: service.meetings[r.meeting_id] for k, r in rows.items()}
    assert (held["a"].meeting_place, held["a"].actors) == ("Room A", [ALICE])
    assert (held["b"].meeting_place, held["b"].actors, held["b"].room_id) == ("Room B", [BOB], None)
    assert held["c"].room_id == "R9"


@pytest.mark.parametrize(
    "change",
    [{"content": "other"}, {"reminder": 60}, {"attendees": [ALICE]}, {"place": None},
     {"type": "voice"}, {"minutes_required": True}, {"end": "2026-12-01T10:31:00+08:00"}],
)  # fmt: skip
async def test_any_reported_difference_means_no_adoption(
    client: MeetingClient, service: FakeService, journals: Journals, change: dict[str, Any]
) -> None:
    await journals.sync(client, [single("a")])
    result = await journals.sync(client, [single("a", **change)], fresh=True)
    assert (result.adopted, result.created) == (0, 1)


async def test_a_meeting_some_key_maps_is_never_adopted(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    await journals.sync(client, [single("x")])
    # A second key asking for exactly x's meeting, in the same journal: a second meeting.
    result = await journals.sync(client, [single("x"), single("y", title="Meeting x")])
    assert (result.adopted, result.created, result.unchanged) == (0, 1, 1)
    assert len(live(service, "Meeting x")) == 2


async def test_one_query_by_day_per_day_whatever_the_number_of_keys(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    records = [
        single(f"k{i}", title=f"T{i}", start=f"2026-12-0{1 + i % 3}T{8 + i // 3:02d}:00:00+08:00",
               end=f"2026-12-0{1 + i % 3}T{8 + i // 3:02d}:30:00+08:00")
        for i in range(12)
    ]  # fmt: skip
    await journals.sync(client, records)
    assert meeting_calls(service).count("queryByDay") == 3
    before = len(service.calls)
    result = await journals.sync(client, records, fresh=True, concurrency=8)
    assert result.adopted == 12
    calls = Counter(c.endpoint for c in service.calls[before:])
    assert calls == {"queryByDay": 3, "detail": 12}


async def test_finder_shares_one_read_among_concurrent_keys(
    client: MeetingClient, service: FakeService
) -> None:
    import asyncio

    finder = Finder(client, set())
    probe = Probe.of(entries(single("a"))[0])
    found = await asyncio.gather(*(finder.claim(probe) for _ in range(20)))
    assert found == [None] * 20
    assert meeting_calls(service) == ["queryByDay"]
    assert finder.lookups.days == 1


async def test_series_matched_by_parent_and_occurrence_set(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    await journals.sync(client, [series("s")])
    parent = next(m for m in live(service, "Series s") if m.batch_id == m.id)
    # Same parent but another repeat end: another occurrence set, not this series.
    result = await journals.sync(client, [series("s", repeat_until="2026-12-20")], fresh=True)
    assert (result.adopted, result.created) == (0, 1)
    result = await journals.sync(client, [series("s")], fresh=True)
    assert (result.adopted, result.created) == (1, 0)
    assert (await journals.rows())["s"].meeting_id == parent.id
    # An occurrence cancelled on its own: the occurrence set differs.
    members = [m for m in service.meetings.values() if m.batch_id == parent.id]
    last = max(members, key=lambda m: m.start_date)
    last.status = STATUS_CANCELLED
    result = await journals.sync(client, [series("s")], fresh=True)
    assert (result.adopted, result.created) == (0, 1)


async def test_an_occurrence_is_never_adopted_as_a_single_meeting(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    await journals.sync(client, [series("s", attendees=None)])
    one = single("o", title="Series s", start="2026-12-14T09:00:00+08:00",
                 end="2026-12-14T09:15:00+08:00", attendees=None, place=None,
                 reminder=None)  # fmt: skip
    result = await journals.sync(client, [one], fresh=True)
    assert (result.adopted, result.created) == (0, 1)


async def test_twin_creates_in_doubt_only_one_arrived(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    twin = {"title": "Slot", "start": "2026-12-03T10:00:00+08:00",
            "end": "2026-12-03T11:00:00+08:00"}  # fmt: skip
    a = single("a", **twin, place="Room A", attendees=[ALICE])
    b = single("b", **twin, place="Room B", attendees=[BOB])
    # a's create never reaches the server; b's arrives but its answer is lost.
    service.faults = Faults(script=["ok", "drop_before", "drop_after"])
    first = await journals.sync(client, [a, b], concurrency=1)
    assert first.failed == 2
    rows = await journals.rows()
    assert rows["a"].in_doubt
    assert rows["b"].in_doubt
    assert len(live(service, "Slot")) == 1
    result = await journals.sync(client, [a, b])
    assert result.ok
    rows = await journals.rows()
    held = {k: service.meetings[r.meeting_id] for k, r in rows.items()}
    assert (held["a"].meeting_place, held["a"].actors) == ("Room A", [ALICE])
    assert (held["b"].meeting_place, held["b"].actors) == ("Room B", [BOB])
    assert len(live(service, "Slot")) == 2
    assert (await journals.sync(client, [a, b])).unchanged == 2


async def test_a_create_in_doubt_whose_entry_changed_is_adopted_then_modified(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    service.faults = Faults(script=["ok", "drop_after"])
    await journals.sync(client, [single("a", place="Old")])
    result = await journals.sync(client, [single("a", place="New")])
    assert (result.modified, result.created) == (1, 0)
    (meeting,) = live(service, "Meeting a")
    assert meeting.meeting_place == "New"


async def test_prune_cancels_adopted_keys_only(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    await journals.sync(client, [single("a"), single("foreign", title="Not in the file")])
    await journals.sync(client, [single("a"), single("b", title="B")], fresh=True)
    result = await journals.sync(client, [], prune=True)
    assert result.cancelled == 2  # a (adopted) and b (created)
    assert [m.title for m in live(service)] == ["Not in the file"]


async def test_signature_of_the_request_equals_that_of_the_stored_meeting(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    from yzj_meeting.details import GetMeeting
    from yzj_meeting.models import QueryByDay

    records = [SCHEDULE[1], SCHEDULE[2], series("s")]
    await journals.sync(client, records)
    rows = await journals.rows()
    for entry in entries(*records):
        meeting_id = rows[entry.key].meeting_id
        (info,) = [
            i
            for i in await client.query_by_day(QueryByDay(entry.model.start_date))
            if i.id == meeting_id
        ]
        detail = await client.get_meeting(GetMeeting(meeting_id))
        assert service_signature(info, detail) == signature(entry.model)


async def test_a_day_that_cannot_be_read_fails_its_keys_and_creates_nothing(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    other_day = single("b", start="2026-12-02T09:30:00+08:00", end="2026-12-02T10:30:00+08:00")
    await journals.sync(client, [single("a")])
    # Every attempt (three) of the first day's read fails; the second day is read.
    service.faults = Faults(script=["server_error"] * 3)
    result = await journals.sync(client, [single("a"), other_day], fresh=True, concurrency=1)
    assert (result.failed, result.created, result.adopted) == (1, 1, 0)
    assert "server" in result.errors[0].error.lower()
    assert len(live(service, "Meeting a")) == 1  # not created blindly
    assert (await journals.sync(client, [single("a"), other_day])).adopted == 1
    assert len(live(service, "Meeting a")) == 1


async def test_a_create_in_doubt_of_an_older_version_without_a_signature(
    client: MeetingClient, service: FakeService, tmp_path: Path
) -> None:
    import attrs

    from yzj_meeting.sync.plan import intent_for

    (entry,) = entries(single("a"))
    await client.create_meeting(entry.model)  # sent, then the process died
    async with await Journal.open(tmp_path / "old.sqlite3", TARGET) as journal:
        await journal.begin("a", attrs.evolve(intent_for("create", entry), signature=None))
        result = await sync(client, journal, [entry])
        assert (result.created, result.failed) == (1, 0)  # the lost create did happen
        assert len(live(service, "Meeting a")) == 1
        row = await journal.get("a")
        assert row is not None
        assert row.meeting_id == live(service, "Meeting a")[0].id


async def test_a_series_with_the_same_occurrences_is_adopted_whatever_the_repeat_end_time(
    client: MeetingClient, service: FakeService, journals: Journals
) -> None:
    await journals.sync(client, [series("s", repeat_until="2026-12-31T10:00:00+08:00")])
    result = await journals.sync(client, [series("s")], fresh=True)  # until 2026-12-31 (a date)
    assert (result.adopted, result.created) == (1, 0)


def test_signature_ignores_how_times_are_written_and_what_is_empty() -> None:
    utc = single("a", start="2026-12-01T01:30:00+00:00", end="2026-12-01T02:30:00Z",
                 content="", place="")  # fmt: skip
    shanghai = single("a", content=None, place=None)
    (one,), (two,) = entries(utc), entries(shanghai)
    assert signature(one.model) == signature(two.model)
    (plain,), (other,) = entries(single("a")), entries(single("a", attendees=[BOB, ALICE]))
    assert signature(other.model) == signature(plain.model)  # attendee order does not count
    (fewer,) = entries(single("a", attendees=[BOB]))
    assert signature(fewer.model) != signature(plain.model)


async def test_a_cancelled_reader_does_not_cancel_the_shared_read(
    client: MeetingClient, service: FakeService
) -> None:
    import asyncio

    await client.create_meeting(entries(single("a"))[0].model)
    finder = Finder(client, set())
    start = Probe.of(entries(single("a"))[0]).start
    first = asyncio.create_task(finder.day(start))
    second = asyncio.create_task(finder.day(start))
    await asyncio.sleep(0)
    first.cancel()
    assert [m.title for m in await second] == ["Meeting a"]
    assert first.cancelled()
    assert meeting_calls(service) == ["create", "queryByDay"]


async def test_a_create_in_doubt_on_a_day_with_an_unreadable_meeting_stays_in_doubt(
    service: FakeService, journals: Journals
) -> None:
    import json

    import attrs

    from yzj_meeting.fake import FakeTransport

    class Garbling:
        """Adds, while ``on``, a meeting without an id to every queryByDay answer."""

        def __init__(self) -> None:
            self.inner = FakeTransport(service)
            self.on = False

        async def send(self, request: Any) -> Any:
            answer = await self.inner.send(request)
            if not (self.on and request.endpoint == "queryByDay"):
                return answer
            envelope = json.loads(answer.body)
            envelope["data"].append({"title": "?", "startDate": 0})
            return attrs.evolve(answer, body=json.dumps(envelope).encode())

        async def aclose(self) -> None:
            await self.inner.aclose()

    transport = Garbling()
    async with make_client(service, transport=transport) as client:
        # The day's read, then the create never reaches the server: a create in doubt.
        service.faults = Faults(script=["ok", "drop_before"])
        assert (await journals.sync(client, [single("a")])).failed == 1
        transport.on = True  # the meeting looked for could be the unreadable one
        second = await journals.sync(client, [single("a")])
        assert (second.failed, second.created) == (1, 0)
        assert "could not be read" in second.errors[0].error
        assert (await journals.rows())["a"].in_doubt
        assert live(service, "Meeting a") == []
        transport.on = False
        third = await journals.sync(client, [single("a")])
        assert (third.created, third.failed) == (1, 0)
    assert len(live(service, "Meeting a")) == 1
