"""The corpus of real-shaped and hostile schedule files, and fuzzing around it.

Each corpus file is accepted as ``expected.json`` says (its keys, kinds and starts) or refused
with exactly the listed ``line: field`` problems; the accepted ones are synced through the CLI
on the embedded emulator. The fuzz tests mutate the corpus (and make up files): the parse ends
in entries or ``ScheduleError``, the CLI in exit 0 or 2 without a traceback, nothing sent on 2
(on the embedded emulator and on the emulator server, whose request log must stay empty).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yzj_meeting.cli import command
from yzj_meeting.fake.calendar import expand
from yzj_meeting.models import SHANGHAI
from yzj_meeting.sync.people import PeopleMap, load_people
from yzj_meeting.sync.schedule import Entry, ScheduleError, load_schedule, parse_schedule

from .served import Served, served

pytest.importorskip("icalendar")

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED: dict[str, dict[str, list[str]]] = json.loads((CORPUS / "expected.json").read_text())
NOT_SCHEDULES = {"expected.json", "README.md", "people.csv"}
FORMATS = {".json": "json", ".jsonl": "jsonl", ".csv": "csv", ".ics": "ics"}


def people() -> PeopleMap:
    found = load_people(str(CORPUS / "people.csv"), [])
    assert found is not None
    return found


def shown(entry: Entry) -> str:
    model = entry.model
    kind = f"series:{model.repeat.name.lower()}" if entry.is_series else "single"  # type: ignore[union-attr]
    shown = f"{entry.key} {kind} {model.start_date.isoformat()}"
    if entry.excluded:
        zone = model.start_date.tzinfo
        shown += " excluding " + ",".join(s.astimezone(zone).isoformat() for s in entry.excluded)
    return shown


def occurrence_starts(entry: Entry) -> list[datetime]:
    """The starts of the live meetings an entry stands for (a series: minus its exclusions)."""
    model = entry.model
    if not entry.is_series:
        return [model.start_date]
    until = model.repeat_end_date  # type: ignore[union-attr]
    pairs = expand(model.start_date, model.end_date, int(model.repeat), until)  # type: ignore[union-attr]
    return [a for a, _ in pairs if a not in set(entry.excluded)]


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.name for p in CORPUS.iterdir()} - NOT_SCHEDULES
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_is_accepted_or_refused_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    if "accepted" in expected:
        entries = load_schedule(CORPUS / name, people=people())
        assert [shown(e) for e in entries] == expected["accepted"]
    else:
        with pytest.raises(ScheduleError) as excinfo:
            load_schedule(CORPUS / name, people=people())
        problems = excinfo.value.problems
        assert [f"{p.line}: {p.field}" for p in problems] == expected["refused"]
        for problem in problems:
            assert str(problem).startswith(f"{CORPUS / name}:{problem.line}: ")
            assert "Traceback" not in problem.message


def test_google_export_facts() -> None:
    """What the Google export must mean, said independently of expected.json."""
    entries = load_schedule(CORPUS / "google_calendar_export.ics", people=people())
    weekly = [e for e in entries if e.key.startswith("4k3b")]
    assert len(weekly) == 1
    assert weekly[0].is_series
    days = [s.astimezone(SHANGHAI).date().isoformat() for s in occurrence_starts(weekly[0])]
    assert days == ["2026-12-01", "2026-12-08", "2026-12-22", "2026-12-29"]  # EXDATE: no 15th
    assert {e.model.openid for e in weekly} == {"5f0c6a1b2c3d4e5f60718293"}  # wang.wei
    assert weekly[0].model.actors == ("5f0c6a1b2c3d4e5f60718293", "5f0c6a1b2c3d4e5f60718294")
    assert weekly[0].model.content == "Weekly sync, agenda:\n1. status\n2. risks"
    assert weekly[0].model.notice_time == 15
    review = next(e for e in entries if e.key.startswith("0a1b"))
    assert review.model.meeting_place == "Lotus Room 2F, Building A"  # type: ignore[union-attr]
    assert not any(e.key.startswith("cancelled") for e in entries)


@pytest.mark.parametrize("on_server", [False, True], ids=["embedded", "server"])
@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "accepted" in e))
def test_accepted_corpus_files_sync_through_the_cli(
    name: str, on_server: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("YZJ_EID", "YZJ_SECRET", "YZJ_BASE_URL", "YZJ_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        if on_server:
            server = stack.enter_context(served(tmp_path / "server"))
            monkeypatch.setenv("YZJ_BASE_URL", server.url)
            monkeypatch.setenv("YZJ_EID", "corpus")
            monkeypatch.setenv("YZJ_SECRET", "corpus-secret")
        sync_and_check(name)


def sync_and_check(name: str) -> None:
    entries = load_schedule(CORPUS / name, people=people())
    args = ["sync", str(CORPUS / name), "--people", str(CORPUS / "people.csv"), "--json"]
    result = CliRunner().invoke(command(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == len(entries)
    # Every occurrence the entries stand for is a live meeting on its Shanghai day, and no
    # excluded one is.
    for entry in entries:
        model = entry.model
        wanted = occurrence_starts(entry)
        for start in sorted({*wanted, *entry.excluded}):
            day = start.astimezone(SHANGHAI).date().isoformat()
            listing = CliRunner().invoke(command(), ["day", day, "--json"])
            found = [
                m
                for m in json.loads(listing.stdout)["meetings"]
                if m["title"] == model.title
                and m["status"] != "cancelled"
                and datetime.fromisoformat(m["start"]) == start
            ]
            assert len(found) == (1 if start in wanted else 0), (entry.key, day)


# --- fuzz ---


def corpus_texts(suffix: str) -> list[str]:
    return [
        p.read_bytes().decode("utf-8", errors="replace")
        for p in sorted(CORPUS.iterdir())
        if p.suffix == suffix and p.name not in NOT_SCHEDULES
    ]


@st.composite
def mutated(draw: st.DrawFn, suffix: str) -> str:
    text = draw(st.sampled_from(corpus_texts(suffix)))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        edit = draw(st.sampled_from(["insert", "delete", "duplicate", "swap", "chars"]))
        if edit == "insert":
            lines.insert(at, draw(st.text(max_size=40)))
        elif edit == "delete" and lines:
            del lines[at]
        elif edit == "duplicate" and lines:
            lines.insert(at, lines[at])
        elif edit == "swap" and len(lines) > 1:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif lines:
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = (
                line[:cut] + draw(st.text(max_size=8)) + line[cut + draw(st.integers(0, 3)) :]
            )
        text = "\n".join(lines)
    return text


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_refuses(text: str, fmt: str) -> None:
    try:
        entries = parse_schedule(text, fmt, path=f"fuzz.{fmt}", people=people())
    except ScheduleError as exc:
        problems = exc.problems
    else:
        assert all(entry.key for entry in entries)
        return
    assert problems
    for problem in problems:
        str(problem).encode("utf-8")  # printable: no lone surrogate in a message


@pytest.mark.parametrize("suffix", sorted(FORMATS))
@FUZZ
@given(data=st.data())
def test_mutated_corpus_files_parse_or_are_refused(suffix: str, data: st.DataObject) -> None:
    if not corpus_texts(suffix):
        pytest.skip(f"no {suffix} file in the corpus")
    parses_or_refuses(data.draw(mutated(suffix)), FORMATS[suffix])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    [
        "key",
        "openid",
        "title",
        "start",
        "end",
        "attendees",
        "repeat",
        "repeat_until",
        "reminder",
        "important",
        "type",
        "place",
        "room_id",
        "content",
        "minutes_required",
        "other",
    ]
)
MEETINGS = st.lists(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=10), max_size=5)


@FUZZ
@given(MEETINGS, st.sampled_from(["json", "jsonl"]))
def test_made_up_json_schedules_parse_or_are_refused(meetings: list[object], fmt: str) -> None:
    if fmt == "json":
        text = json.dumps({"meetings": meetings})
    else:
        text = "\n".join(json.dumps(m) for m in meetings)
    parses_or_refuses(text, fmt)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(sorted(FORMATS)))
def test_arbitrary_bytes_are_refused_or_read(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"s{suffix}"
        path.write_bytes(data)
        problems = []
        try:
            load_schedule(path, people=people())
        except ScheduleError as exc:
            problems = exc.problems
            assert problems, "a refusal names its problems"


@contextmanager
def fresh_state() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        old = os.getcwd()
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(old)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("fuzz-server")) as running:
        yield running


def fuzz_cli(text: str, suffix: str, server: Served | None) -> None:
    """Sync ``text`` as a ``suffix`` file: exit 0 or 2, no traceback; on 2 nothing sent
    (no request reached the server; no state at all written for the embedded emulator)."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("YZJ_")}
    if server is not None:
        clean.update(YZJ_BASE_URL=server.url, YZJ_EID="fuzz", YZJ_SECRET="fuzz-secret")
    before = len(server.requests()) if server is not None else 0
    with fresh_state() as folder:
        path = folder / f"s{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = CliRunner(env=clean).invoke(
            command(),
            ["sync", str(path), "--people", str(CORPUS / "people.csv"), "--json"],
            catch_exceptions=True,
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert not (folder / ".yzj-meeting").exists()
            if server is not None:
                assert server.requests()[before:] == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FORMATS)), st.data())
def test_the_cli_exits_0_or_2_and_sends_nothing_on_2(suffix: str, data: st.DataObject) -> None:
    fuzz_cli(data.draw(mutated(suffix)), suffix, None)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(FORMATS)), st.data())
def test_on_the_emulator_server_exit_2_sends_no_request(
    server: Served, suffix: str, data: st.DataObject
) -> None:
    fuzz_cli(data.draw(mutated(suffix)), suffix, server)
