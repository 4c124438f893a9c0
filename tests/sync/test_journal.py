"""The journal: SQLite round trips, namespacing by target, and the intent/outcome rules."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.sync.journal import Intent, Journal, JournalError, target_name
from yzj_meeting.sync.plan import intent_for

from . import ALICE, BOB, CAROL, entries, series, single

TARGET = target_name("https://www.yunzhijia.com/", "17717")


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with await Journal.open(tmp_path / "state" / "journal.sqlite3", TARGET) as j:
        yield j


def raw_pending(path: str, key: str) -> str | None:
    """Read the file with a connection of its own, as another process would."""
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT pending FROM entries WHERE key = ?", (key,)).fetchone()
    db.close()
    return found[0] if found else "<no row>"


def test_target_name() -> None:
    assert target_name("https://a.example/", "e1") == "https://a.example#e1"
    assert target_name("https://a.example", None) == "https://a.example#"


async def test_file_is_wal_and_calls_run_in_the_journal_thread(journal: Journal) -> None:
    with sqlite3.connect(journal.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    names = {await journal._run(lambda: threading.current_thread().name) for _ in range(3)}
    assert len(names) == 1
    (name,) = names
    assert name.startswith("yzj-journal")
    assert name != threading.current_thread().name


async def test_create_round_trip_survives_reopening(journal: Journal) -> None:
    (entry,) = entries(single("a"))
    intent = intent_for("create", entry)
    await journal.begin("a", intent)
    # The intent is committed before the call is sent: another connection sees it.
    assert raw_pending(journal.path, "a") == "create"
    row = (await journal.rows())["a"]
    assert row.in_doubt
    assert row.meeting_id is None
    assert row.intent == intent

    await journal.succeeded("a", ["m-1"])
    assert raw_pending(journal.path, "a") is None
    async with await Journal.open(journal.path, TARGET, readonly=True) as again:  # (locked)
        row = (await again.rows())["a"]
    assert row.meeting_id == "m-1"
    assert row.ids == ("m-1",)
    assert row.fingerprint == entry.fingerprint
    assert row.attendees == (ALICE, BOB)
    assert row.openid == entry.model.openid
    assert row.starts == (intent.start,)
    assert not row.in_doubt
    assert row.pending is None
    assert await journal.mapped_ids() == {"m-1"}


async def test_series_keeps_the_parent_and_every_id(journal: Journal) -> None:
    (entry,) = entries(series("s"))
    await journal.begin("s", intent_for("create", entry))
    await journal.succeeded("s", ["p", "o2", "o3"])
    row = await journal.get("s")
    assert row is not None
    assert row.series
    assert row.meeting_id == "p"
    assert row.ids == ("p", "o2", "o3")
    assert await journal.mapped_ids() == {"p", "o2", "o3"}


async def test_targets_never_mix(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    (entry,) = entries(single("a"))
    async with await Journal.open(path, "https://one#e") as one:
        await one.begin("a", intent_for("create", entry))
        await one.succeeded("a", ["m-1"])
    async with await Journal.open(path, "https://two#e") as two:
        assert await two.rows() == {}
        assert await two.mapped_ids() == set()
        await two.begin("a", intent_for("create", entry))  # same key, other target
        await two.succeeded("a", ["m-2"])
    async with await Journal.open(path, "https://one#e") as one:
        row = await one.get("a")
        assert row is not None
        assert row.meeting_id == "m-1"


async def test_refused_calls_leave_no_intent(journal: Journal) -> None:
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


async def test_modify_outcome_replaces_fingerprint_and_attendees(journal: Journal) -> None:
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


async def test_an_unconfirmed_modify_is_folded_in_by_the_next_intent(journal: Journal) -> None:
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
    assert not row.in_doubt  # nothing to look up: the next modify is a full replace
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


async def test_in_doubt_create_must_be_resolved_first(journal: Journal) -> None:
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


async def test_cancel_outcome_and_cancel_in_doubt(journal: Journal) -> None:
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


async def test_steps_out_of_order_are_refused(journal: Journal) -> None:
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


async def test_not_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match="not a usable journal"):
        await Journal.open(path, TARGET)
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(JournalError, match="not supported"):
        await Journal.open(newer, TARGET)


async def test_closed_journal_refuses(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite3", TARGET)
    await journal.aclose()
    with pytest.raises((JournalError, RuntimeError)):
        await journal.rows()


async def test_steps_in_flight_together_share_a_transaction(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    original = journal._change_many

    def counting(batch: Any) -> Any:
        batches.append(len(batch))
        return original(batch)

    monkeypatch.setattr(journal, "_change_many", counting)
    many = entries(*(single(f"k{i}") for i in range(40)))
    await asyncio.gather(*(journal.begin(e.key, intent_for("create", e)) for e in many))
    assert sum(batches) == 40
    assert len(batches) < 40  # grouped: the first alone, the rest while it commits
    # Each caller got its own outcome: one refused step does not undo the others.
    results = await asyncio.gather(
        journal.succeeded("k0", ["m-0"]),
        journal.succeeded("nope", ["m-x"]),
        journal.succeeded("k1", ["m-1"]),
        return_exceptions=True,
    )
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], JournalError)
    rows = await journal.rows()
    assert (rows["k0"].meeting_id, rows["k1"].meeting_id) == ("m-0", "m-1")
    assert "nope" not in rows
    assert raw_pending(journal.path, "k0") is None
