"""One contract, two journals: the SQLite ``Journal`` and the PostgreSQL ``PgJournal`` pass the
same tests of the intent/outcome rules, namespacing and durability across reopening."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from yzj_meeting.sync.journal import Intent, Journal, JournalError, target_name
from yzj_meeting.sync.journal_protocol import SyncJournal
from yzj_meeting.sync.pg_journal import PgJournal, migrate
from yzj_meeting.sync.plan import intent_for

from ..sync import ALICE, BOB, CAROL, entries, series, single

TARGET = target_name("https://www.yunzhijia.com/", "17717")

Opener = Callable[[str], Awaitable[SyncJournal]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def open_journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Opens the journal of a target (closed at the end); the same store every time."""
    opened: list[SyncJournal] = []
    if request.param == "sqlite":

        async def open_one(target: str) -> SyncJournal:
            journal = await Journal.open(tmp_path / "journal.sqlite3", target)
            opened.append(journal)
            return journal

    else:
        url = request.getfixturevalue("pg_url")
        await migrate(url)

        async def open_one(target: str) -> SyncJournal:
            journal = await PgJournal.open(
                url, target, ttl=30.0, send_budget=0.2, request_timeout=0.5
            )
            opened.append(journal)
            return journal

    yield open_one
    for journal in opened:
        await journal.aclose()


@pytest.fixture
async def journal(open_journal: Opener) -> SyncJournal:
    return await open_journal(TARGET)


async def test_create_round_trip_survives_reopening(
    journal: SyncJournal, open_journal: Opener
) -> None:
    (entry,) = entries(single("a"))
    intent = intent_for("create", entry)
    await journal.begin("a", intent)
    row = (await journal.rows())["a"]
    assert row.in_doubt
    assert row.meeting_id is None
    assert row.intent == intent

    await journal.succeeded("a", ["m-1"])
    await journal.aclose()
    again = await open_journal(TARGET)
    row = (await again.rows())["a"]
    assert row.meeting_id == "m-1"
    assert row.ids == ("m-1",)
    assert row.fingerprint == entry.fingerprint
    assert row.attendees == (ALICE, BOB)
    assert row.openid == entry.model.openid
    assert row.starts == (intent.start,)
    assert not row.in_doubt
    assert row.pending is None
    assert await again.mapped_ids() == {"m-1"}


async def test_an_intent_survives_reopening(journal: SyncJournal, open_journal: Opener) -> None:
    (entry,) = entries(single("a"))
    intent = intent_for("create", entry)
    await journal.begin("a", intent)  # ... and the process dies
    await journal.aclose()
    again = await open_journal(TARGET)
    row = await again.get("a")
    assert row is not None
    assert (row.pending, row.intent) == ("create", intent)


async def test_series_keeps_the_parent_and_every_id(journal: SyncJournal) -> None:
    (entry,) = entries(series("s"))
    await journal.begin("s", intent_for("create", entry))
    await journal.succeeded("s", ["p", "o2", "o3"])
    row = await journal.get("s")
    assert row is not None
    assert row.series
    assert row.meeting_id == "p"
    assert row.ids == ("p", "o2", "o3")
    assert await journal.mapped_ids() == {"p", "o2", "o3"}


async def test_targets_never_mix(open_journal: Opener) -> None:
    # One journal open at a time: the SQLite journal holds its state directory's lock.
    (entry,) = entries(single("a"))
    one = await open_journal("https://one#e")
    await one.begin("a", intent_for("create", entry))
    await one.succeeded("a", ["m-1"])
    await one.aclose()
    two = await open_journal("https://two#e")
    assert await two.rows() == {}
    assert await two.mapped_ids() == set()
    await two.begin("a", intent_for("create", entry))  # same key, other target
    await two.succeeded("a", ["m-2"])
    await two.aclose()
    row = await (await open_journal("https://one#e")).get("a")
    assert row is not None
    assert row.meeting_id == "m-1"


async def test_refused_calls_leave_no_intent(journal: SyncJournal) -> None:
    (entry,) = entries(single("a"))
    await journal.begin("a", intent_for("create", entry))
    await journal.failed("a")  # a refused create: the key is as if never seen
    assert await journal.get("a") is None

    await journal.begin("a", intent_for("create", entry))
    await journal.succeeded("a", ["m-1"])
    (changed,) = entries(single("a", title="New"))
    await journal.begin("a", intent_for("modify", changed))
    await journal.failed("a")
    row = await journal.get("a")
    assert row is not None
    assert (row.pending, row.fingerprint) == (None, entry.fingerprint)


async def test_modify_outcome_replaces_fingerprint_and_attendees(journal: SyncJournal) -> None:
    (entry,) = entries(single("a"))
    await journal.begin("a", intent_for("create", entry))
    await journal.succeeded("a", ["m-1"])
    (changed,) = entries(
        single(
            "a",
            attendees=[CAROL],
            start="2026-12-02T09:30:00+08:00",
            end="2026-12-02T10:00:00+08:00",
        )
    )
    await journal.begin("a", intent_for("modify", changed))
    await journal.succeeded("a")
    row = await journal.get("a")
    assert row is not None
    assert row.fingerprint == changed.fingerprint
    assert row.attendees == (CAROL,)
    assert row.starts == (intent_for("modify", changed).start,)


async def test_an_unconfirmed_modify_is_folded_in_by_the_next_intent(
    journal: SyncJournal,
) -> None:
    (entry,) = entries(single("a", attendees=[ALICE, BOB]))
    await journal.begin("a", intent_for("create", entry))
    await journal.succeeded("a", ["m-1"])
    (lost,) = entries(
        single(
            "a",
            attendees=[BOB, CAROL],
            start="2026-12-03T09:30:00+08:00",
            end="2026-12-03T10:00:00+08:00",
        )
    )
    await journal.begin("a", intent_for("modify", lost))  # ... and the process dies
    row = await journal.get("a")
    assert row is not None
    assert row.pending == "modify"
    assert not row.in_doubt
    settled = row.settled()
    assert settled.fingerprint is None
    assert settled.attendees == (BOB,)
    assert settled.maybe_attendees == (ALICE, BOB, CAROL)
    assert len(settled.starts) == 2

    await journal.begin("a", Intent(op="cancel"))
    row = await journal.get("a")
    assert row is not None
    assert (row.pending, row.fingerprint, row.maybe_attendees) == (
        "cancel",
        None,
        (ALICE, BOB, CAROL),
    )


async def test_in_doubt_create_must_be_resolved_first(journal: SyncJournal) -> None:
    (entry,) = entries(single("a"))
    await journal.begin("a", intent_for("create", entry))
    with pytest.raises(JournalError, match="in doubt"):
        await journal.begin("a", intent_for("create", entry))
    with pytest.raises(JournalError, match="in doubt"):
        await journal.begin("a", intent_for("modify", entry))
    await journal.adopt("a", "found-1")
    row = await journal.get("a")
    assert row is not None
    assert (row.meeting_id, row.fingerprint, row.pending) == ("found-1", entry.fingerprint, None)

    await journal.begin("b", intent_for("create", entries(single("b"))[0]))
    await journal.forget("b")
    assert await journal.get("b") is None


async def test_cancel_outcome_and_cancel_in_doubt(journal: SyncJournal) -> None:
    (entry,) = entries(single("a"))
    await journal.begin("a", intent_for("create", entry))
    await journal.succeeded("a", ["m-1"])
    await journal.begin("a", Intent(op="cancel"))
    row = await journal.get("a")
    assert row is not None
    assert row.in_doubt
    await journal.resume("a")  # the meeting was seen alive
    row = await journal.get("a")
    assert row is not None
    assert row.pending is None
    await journal.begin("a", Intent(op="cancel"))
    await journal.succeeded("a")
    assert await journal.get("a") is None


async def test_steps_out_of_order_are_refused(journal: SyncJournal) -> None:
    (entry,) = entries(single("a"))
    with pytest.raises(JournalError):
        await journal.begin("a", intent_for("modify", entry))
    with pytest.raises(JournalError):
        await journal.succeeded("a")
    with pytest.raises(JournalError):
        await journal.adopt("a", "x")
    with pytest.raises(JournalError):
        await journal.resume("a")
    await journal.begin("a", intent_for("create", entry))
    with pytest.raises(JournalError, match="needs the meeting id"):
        await journal.succeeded("a")
    row = await journal.get("a")
    assert row is not None
    assert row.pending == "create"  # a refused step leaves the row as it was


async def test_closed_journal_refuses(journal: SyncJournal) -> None:
    await journal.aclose()
    (entry,) = entries(single("a"))
    with pytest.raises((JournalError, RuntimeError)):
        await journal.begin("a", intent_for("create", entry))
