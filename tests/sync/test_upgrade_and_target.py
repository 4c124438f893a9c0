"""Upgrades and identity: legacy fingerprints, spellings of one base URL, the state lock, the
dry run from the library, and readers and planning that stay linear in the schedule's size."""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.errors import ValidationError
from yzj_meeting.fake import FakeService
from yzj_meeting.sync import (
    IncompleteCredentials,
    Journal,
    StateLocked,
    plan_sync,
    resolve_target,
    sync,
    target_name,
)
from yzj_meeting.sync.entry import legacy_fingerprint
from yzj_meeting.sync.formats.json import LineCounter, item_lines
from yzj_meeting.sync.journal import JournalRow
from yzj_meeting.sync.plan import plan

from . import entries, make_client, meeting_calls, series, single

SCHEDULE = [single("a"), single("b", title="Budget"), series("s")]


def stored(path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT target, key, fingerprint FROM entries ORDER BY key").fetchall()
    db.close()
    return found


def make_legacy(path: Path, records: list[dict[str, Any]]) -> None:
    """Rewrite the journal's fingerprints as a version before v2 wrote them."""
    by_key = {e.key: legacy_fingerprint(e.model) for e in entries(*records)}
    with sqlite3.connect(path) as db:
        for key, fp in by_key.items():
            db.execute("UPDATE entries SET fingerprint = ? WHERE key = ?", (fp, key))
    db.close()


# --- fingerprints of an older version ---


async def test_legacy_fingerprints_are_recognised_once_and_rewritten(tmp_path: Path) -> None:
    service = FakeService(seed=5)
    path = tmp_path / "journal.sqlite3"
    name = target_name("http://x", "e")
    async with make_client(service) as client:
        async with await Journal.open(path, name) as journal:
            assert (await sync(client, journal, entries(*SCHEDULE))).created == 3
        make_legacy(path, SCHEDULE)
        assert not any(fp.startswith("v2:") for _, _, fp in stored(path) if fp)
        before = len(meeting_calls(service))

        changed = [*SCHEDULE[:2], series("s", title="Renamed series")]
        async with await Journal.open(path, name) as journal:
            result = await sync(client, journal, entries(*changed))
        # The unchanged two are not modified; the changed one is (its legacy hash differs).
        assert (result.unchanged, result.modified) == (2, 1)
        assert meeting_calls(service)[before:] == ["batchModify"]
        assert all(fp is not None and fp.startswith("v2:") for _, _, fp in stored(path))

        async with await Journal.open(path, name) as journal:  # and now in v2: all unchanged
            assert (await sync(client, journal, entries(*changed))).unchanged == 3
        assert meeting_calls(service)[before:] == ["batchModify"]


async def test_a_dry_run_does_not_rewrite_legacy_fingerprints(tmp_path: Path) -> None:
    service = FakeService(seed=5)
    path = tmp_path / "journal.sqlite3"
    async with make_client(service) as client:
        async with await Journal.open(path, "http://x#e") as journal:
            await sync(client, journal, entries(*SCHEDULE))
        make_legacy(path, SCHEDULE)
        legacy = stored(path)
        async with await Journal.open(path, "http://x#e") as journal:
            result = await sync(client, journal, entries(*SCHEDULE), dry_run=True)
        assert result.unchanged == 3
        assert result.actions is not None
        assert len(result.actions) == 3
    assert stored(path) == legacy


# --- one target identity ---


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("HTTPS://Host:443", "https://host/"),
    ],
)
async def test_a_journal_under_another_spelling_is_found_and_migrated(
    tmp_path: Path, old: str, new: str
) -> None:
    service = FakeService(seed=5)
    path = tmp_path / "journal.sqlite3"
    async with make_client(service) as client:
        # As an older version named the target: the URL as given, minus a trailing slash.
        async with await Journal.open(path, f"{old.rstrip('/')}#e") as journal:
            # (no canonical spelling back then)
            journal.target = f"{old.rstrip('/')}#e"
            journal._targets = (journal.target,)
            await sync(client, journal, entries(*SCHEDULE))
        assert {t for t, _, _ in stored(path)} == {f"{old.rstrip('/')}#e"}
        async with await Journal.open(path, target_name(new, "e"), readonly=True) as journal:
            assert set(await journal.rows()) == {"a", "b", "s"}  # found, not moved
        assert {t for t, _, _ in stored(path)} == {f"{old.rstrip('/')}#e"}
        async with await Journal.open(path, target_name(new, "e")) as journal:
            assert (await sync(client, journal, entries(*SCHEDULE))).unchanged == 3
    assert {t for t, _, _ in stored(path)} == {target_name(new, "e")}
    assert len(service.meetings) == 2 + 4  # two singles, a series of four: none twice
    assert meeting_calls(service).count("create") == 2


def test_three_spellings_name_one_target() -> None:
    names = {
        target_name(url, "e")
        for url in ("http://127.0.0.1:80/", "HTTP://127.0.0.1", "http://127.0.0.1:80")
    }
    assert names == {"http://127.0.0.1#e"}
    with pytest.raises(ValidationError, match="base_url"):
        target_name("ftp://127.0.0.1", "e")


def test_resolve_target(tmp_path: Path) -> None:
    emulator = resolve_target(environ={}, state_dir=tmp_path)
    assert emulator.emulator
    assert emulator.journal_path == tmp_path / "journal.sqlite3"
    real = resolve_target(
        environ={"YZJ_EID": "e", "YZJ_SECRET": "s3cret", "YZJ_BASE_URL": "HTTP://H:80/"}
    )
    assert (real.base_url, real.eid, real.emulator) == ("http://h", "e", False)
    assert "s3cret" not in repr(real)
    with pytest.raises(IncompleteCredentials) as info:
        resolve_target(environ={"YZJ_EID": "e"})
    assert info.value.missing == ("secret",)
    with pytest.raises(ValidationError, match="base_url"):
        resolve_target(eid="e", secret="s", base_url="http://", environ={})


# --- the state lock and the dry run, for library users ---


async def test_the_journal_holds_the_state_lock(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.sqlite3"
    async with await Journal.open(path, "http://x#e"):
        with pytest.raises(StateLocked, match="in use by another sync"):
            await Journal.open(path, "http://x#e", lock_timeout=0.1)
        async with await Journal.open(path, "http://x#e", readonly=True) as reader:
            assert await reader.rows() == {}
    async with await Journal.open(path, "http://x#e", lock_timeout=0.1):
        pass  # given back on close


async def test_target_dry_run_creates_and_sends_nothing(tmp_path: Path) -> None:
    target = resolve_target(environ={}, state_dir=tmp_path / "state")
    result = await target.sync(entries(*SCHEDULE), dry_run=True)
    assert result.counts()["created"] == 3
    assert not (tmp_path / "state").exists()
    assert (await target.sync(entries(*SCHEDULE))).created == 3
    again = await target.sync(entries(*SCHEDULE[:2]), prune=True, dry_run=True)
    assert (again.unchanged, again.cancelled) == (2, 1)
    assert (await target.sync(entries(*SCHEDULE))).unchanged == 3  # the dry run did nothing


# --- linear in the schedule's size ---


def test_json_item_lines_scan_each_character_once() -> None:
    count = 20_000
    items = [{"key": f"k{i}", "title": "line\\nbreak"} for i in range(count)]
    text = "[\n" + ",\n".join(json.dumps(item, indent=1) for item in items) + "\n]\n"
    counter = LineCounter(text)
    lines = item_lines(text, counter)
    assert len(lines) == count
    assert lines[:3] == [2, 6, 10]  # each item spans 4 lines, the first on line 2
    assert lines[-1] == 2 + 4 * (count - 1)
    assert counter.scanned <= len(text)  # counting from the start for each would be ~n²/2
    with pytest.raises(ValueError, match="decrease"):
        counter.line_at(0)


class CountingRows(Mapping[str, JournalRow]):
    def __init__(self) -> None:
        self.lookups = 0

    def __getitem__(self, key: str) -> JournalRow:
        self.lookups += 1
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_planning_looks_each_key_up_once() -> None:
    many = entries(*(single(f"k{i}") for i in range(2_000)))
    rows = CountingRows()
    actions = plan(many, rows)
    assert len(actions) == 2_000
    assert rows.lookups == 2_000


async def test_plan_sync_without_a_journal() -> None:
    actions = await plan_sync(None, entries(*SCHEDULE))
    assert [a.kind.value for a in actions] == ["create"] * 3


def test_the_python_example_runs_on_the_emulator(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sync_from_python.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YZJ_")}
    runs = [
        subprocess.run(
            [sys.executable, str(example), str(tmp_path / "state")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    total = len(json.loads(example.with_name("schedule.json").read_text("utf-8"))["meetings"])
    counts = [
        {
            line.split(":")[0]: ast.literal_eval(line.split(":", 1)[1])
            for line in r.stdout.splitlines()
        }
        for r in runs
    ]
    assert counts[0]["would do"]["created"] == counts[0]["done"]["created"] == total
    assert counts[1]["would do"]["unchanged"] == counts[1]["done"]["unchanged"] == total
    assert counts[1]["done"]["created"] == counts[1]["done"]["modified"] == 0
