"""The sync at scale: what it skips and computes once, without changing what it does."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

import yzj_meeting.fake as fake
from yzj_meeting.sync import resolve_target
from yzj_meeting.sync.entry import fingerprint
from yzj_meeting.sync.safe_read import MAX_DEPTH, _shallow, load_json

from . import entries, series, single

SCHEDULE = [single("a"), single("b", title="Second"), series("s")]


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every FakeService the embedded emulator makes."""
    made: list[Any] = []
    real = fake.FakeService

    def counting(**kwargs: Any) -> Any:
        service = real(**kwargs)
        made.append(service)
        return service

    monkeypatch.setattr(fake, "FakeService", counting)
    return made


async def test_an_unchanged_sync_never_loads_the_emulator(
    tmp_path: Path, services: list[Any]
) -> None:
    target = resolve_target(environ={}, state_dir=tmp_path / "state")
    assert (await target.sync(entries(*SCHEDULE))).created == 3
    assert len(services) == 1
    assert services[0].record_calls is False  # a long sync keeps no request bodies
    assert (await target.sync(entries(*SCHEDULE))).unchanged == 3
    assert len(services) == 1  # nothing to send: the state file was not replayed
    changed = [single("a", title="Renamed"), *SCHEDULE[1:]]
    assert (await target.sync(entries(*changed))).modified == 1
    assert len(services) == 2
    titles = {m.title for m in services[1].meetings.values()}  # loaded, then changed
    assert {"Renamed", "Second"} <= titles


async def test_a_foreign_emulator_file_is_refused_before_anything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(state / "emulator.sqlite3")
    db.execute("CREATE TABLE other (x)")
    db.commit()
    db.close()
    target = resolve_target(environ={}, state_dir=state)
    with pytest.raises(ValueError, match="not a"):
        target.client()


async def test_the_target_quota_reaches_client_and_emulator(
    tmp_path: Path, services: list[Any]
) -> None:
    target = resolve_target(environ={}, state_dir=tmp_path / "state")
    custom = attrs.evolve(target, calls_per_minute=7, quota_window=30.0)
    limiter = custom.rate_limiter()
    assert limiter is not None
    assert (limiter.limit, limiter.window) == (7, 30.5)
    assert attrs.evolve(target, calls_per_minute=None).rate_limiter() is None
    await custom.sync(entries(single("a")))
    (service,) = services
    assert (service.calls_per_minute, service.rate_window) == (7, 30.0)


def test_an_entry_fingerprint_is_computed_once() -> None:
    (entry,) = entries(single("a"))
    first = entry.fingerprint
    assert first == fingerprint(entry.model)
    assert entry.fingerprint is first


@pytest.mark.parametrize(
    ("text", "shallow"),
    [
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, True),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), False),
        ('[{"a": "' + "[" * 100 + '"}]', True),  # brackets inside a string do not nest
        ('[{"a": "\\"' + "{" * 100 + '"}]', True),  # nor after an escaped quote
        ("[}", False),  # not paired: the exact scan decides
        ('{"a": [[{}], {"b": []}]}', True),
    ],
)
def test_the_fast_nesting_check(text: str, shallow: bool) -> None:
    assert _shallow(text) is shallow


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_nesting_is_refused_exactly_past_the_limit(depth: int) -> None:
    problems: list[Any] = []
    text = '{"meetings": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    loaded = load_json(text, "s.json", problems)
    if depth <= MAX_DEPTH:
        assert problems == []
        assert loaded is not None
    else:
        assert loaded is None
        assert [p.message for p in problems] == [f"nested more than {MAX_DEPTH} levels deep"]
