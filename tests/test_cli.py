"""The ``yzj-meeting`` command, end to end: click's CliRunner and subprocesses."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from yzj_meeting.cli import command
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.server import serve

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "schedule.json"
OWNER = "5f0c6a1b2c3d4e5f60718293"
ALICE = "5f0c6a1b2c3d4e5f60718294"
SECRET = "s3cret-NEVER-PRINT-7f1d"
COUNT_KEYS = {"created", "adopted", "modified", "cancelled", "unchanged", "failed"}
TOKEN_RE = re.compile(r"[0-9a-f]{48}")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("YZJ_EID", "YZJ_SECRET", "YZJ_BASE_URL", "YZJ_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(command(), list(args), env=env, catch_exceptions=False)


def schedule(path: Path, *titles: str, **extra: Any) -> Path:
    meetings = [
        {
            "key": f"k{i}",
            "openid": OWNER,
            "title": title,
            "start": f"2026-12-01T{9 + i:02d}:00:00+08:00",
            "end": f"2026-12-01T{9 + i:02d}:30:00+08:00",
            "attendees": [ALICE],
            **extra,
        }
        for i, title in enumerate(titles)
    ]
    path.write_text(json.dumps(meetings), encoding="utf-8")
    return path


def one_json(result: Result) -> dict[str, Any]:
    """stdout must be exactly one JSON object."""
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_example_schedule_on_the_embedded_emulator_twice(tmp_path: Path) -> None:
    total = len(json.loads(EXAMPLE.read_text(encoding="utf-8"))["meetings"])
    assert 150 <= total <= 250
    first = invoke("sync", str(EXAMPLE), "--json")
    assert first.exit_code == 0, first.output
    assert one_json(first) == {
        "created": total,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 0,
        "failed": 0,
    }
    # Exactly one line on stderr: no credentials, so the embedded emulator (no progress bar:
    # stderr is not a terminal).
    (line,) = first.stderr.splitlines()
    assert "no credentials" in line
    assert "emulator" in line
    assert (tmp_path / ".yzj-meeting" / "emulator.sqlite3").exists()
    assert (tmp_path / ".yzj-meeting" / "journal.sqlite3").exists()

    second = invoke("sync", str(EXAMPLE), "--json")
    assert second.exit_code == 0, second.output
    assert one_json(second) == {
        "created": 0,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": total,
        "failed": 0,
    }


def test_summary_table_and_dry_run_sends_nothing(tmp_path: Path) -> None:
    path = schedule(tmp_path / "s.json", "Alpha", "Beta")
    dry = invoke("sync", str(path), "--dry-run", "--json")
    assert dry.exit_code == 0
    assert one_json(dry) == {
        "created": 2,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert not (tmp_path / ".yzj-meeting").exists()  # no call, no journal, no emulator state

    plan = invoke("sync", str(path), "--dry-run")
    assert plan.exit_code == 0
    assert "Plan" in plan.stdout
    assert "Alpha" in plan.stdout
    assert re.search(r"create\s*│\s*k0\s*│\s*Alpha\s*│\s*1", plan.stdout)

    real = invoke("sync", str(path))
    assert real.exit_code == 0
    assert "created" in real.stdout
    assert re.search(r"created\s*│\s*2", real.stdout)

    schedule(tmp_path / "s.json", "Alpha renamed", "Beta")
    dry = invoke("sync", str(path), "--dry-run", "--json")
    assert one_json(dry)["modified"] == 1
    state = json.dumps(FakeService.load(tmp_path / ".yzj-meeting" / "emulator.sqlite3").snapshot())
    assert "Alpha renamed" not in state
    nothing = invoke("sync", str(schedule(tmp_path / "s.json", "Alpha", "Beta")), "--dry-run")
    assert "Nothing to do" in nothing.stdout


def test_bad_schedule_exits_2_with_every_problem_and_sends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "key,openid,title,start,end,colour\n"
        f"a,{OWNER},Fine,2026-12-01T09:00:00+08:00,2026-12-01T10:00:00+08:00,\n"
        f"b,{OWNER},Naive,2026-12-01T09:00:00,2026-12-01T10:00:00+08:00,\n"
        f"a,{OWNER},Backwards,2026-12-01T09:00:00+08:00,2026-12-01T08:00:00+08:00,\n",
        encoding="utf-8",
    )
    result = invoke("sync", str(path), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    err = result.stderr
    assert "bad.csv:1: colour: unknown column" in err
    assert "bad.csv:3: start: naive time" in err
    assert "bad.csv:4: end: must be after" in err
    assert "bad.csv:4: key: duplicate key 'a'" in err
    assert "4 problems; nothing was sent" in err
    assert not (tmp_path / ".yzj-meeting").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync"], "Missing argument"),
        (["sync", "missing.json"], "does not exist"),
        (["sync", "s.json", "--concurrency", "0"], "0 is not in the range"),
        (["sync", "s.json", "--frobnicate"], "No such option"),
        (["sync", "s.json", "--eid", "e1"], "credentials are incomplete"),
        (["sync", "s.json", "--eid", "e", "--secret", "x", "--base-url", "ftp://h"], "http"),
        (["day", "tomorrow"], "not a date"),
        (["nope"], "No such command"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    schedule(tmp_path / "s.json", "A")
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_create_day_cancel_and_a_failed_item_exits_1(tmp_path: Path) -> None:
    created = invoke(
        "create",
        "--openid", OWNER,
        "--title", "One-off",
        "--start", "2026-12-01T15:00:00+08:00",
        "--end", "2026-12-01T16:00:00+08:00",
        "--attendee", ALICE,
        "--place", "Lotus Room 2F",
        "--reminder", "15",
        "--important",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    meeting_id = created.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{24}", meeting_id)

    series = invoke(
        "create", "--json",
        "--openid", OWNER,
        "--title", "Weekly",
        "--start", "2026-12-07T09:00:00+08:00",
        "--end", "2026-12-07T09:30:00+08:00",
        "--repeat", "weekly",
        "--repeat-until", "2026-12-31",
    )  # fmt: skip
    assert series.exit_code == 0, series.output
    answer = one_json(series)
    assert len(answer["ids"]) == 4
    assert answer["id"] == answer["ids"][0]

    bad = invoke(
        "create",
        "--openid",
        OWNER,
        "--title",
        "X",
        "--start",
        "2026-12-01T09:00",
        "--end",
        "2026-12-01T08:00:00+08:00",
    )
    assert bad.exit_code == 2
    assert "--start: naive time" in bad.stderr

    path = schedule(tmp_path / "s.json", "Synced")
    assert invoke("sync", str(path)).exit_code == 0
    day = invoke("day", "2026-12-01", "--json")
    assert day.exit_code == 0
    listed = {m["title"]: m for m in one_json(day)["meetings"]}
    assert set(listed) == {"Synced", "One-off"}
    assert listed["One-off"]["place"] == "Lotus Room 2F"
    table = invoke("day", "2026-12-01")
    assert "One-off" in table.stdout
    assert "15:00–16:00" in table.stdout

    synced_id = listed["Synced"]["id"]
    cancelled = invoke("cancel", synced_id, "--openid", OWNER)
    assert cancelled.exit_code == 0
    assert cancelled.stdout.strip() == f"cancelled {synced_id}"
    statuses = {
        m["title"]: m["status"] for m in one_json(invoke("day", "2026-12-01", "--json"))["meetings"]
    }
    assert statuses["Synced"] == "cancelled"
    not_creator = invoke("cancel", meeting_id, "--openid", ALICE)
    assert not_creator.exit_code == 1
    assert "only the creator" in not_creator.stderr

    # The synced meeting was cancelled behind the sync's back: modifying it fails.
    schedule(tmp_path / "s.json", "Synced, renamed")
    failed = invoke("sync", str(path), "--json")
    assert failed.exit_code == 1
    assert one_json(failed) == {
        "created": 0,
        "adopted": 0,
        "modified": 0,
        "cancelled": 0,
        "unchanged": 0,
        "failed": 1,
    }
    assert "failed: k0 (" in failed.stderr
    assert "cancelled" in failed.stderr


def test_a_second_writer_on_the_same_state_dir_waits_then_is_refused(tmp_path: Path) -> None:
    path = schedule(tmp_path / "s.json", "A")
    state = tmp_path / ".yzj-meeting"
    state.mkdir()
    create_args = (
        "create", "--openid", OWNER, "--title", "T",
        "--start", "2026-12-01T15:00:00+08:00", "--end", "2026-12-01T16:00:00+08:00",
    )  # fmt: skip
    with open(state / "lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = invoke("sync", str(path), "--json", "--lock-timeout", "0.2")
        created = invoke(*create_args, "--lock-timeout", "0.2")  # writes the emulator too
        cancelled = invoke("cancel", "x" * 24, "--openid", OWNER, "--lock-timeout", "0")
    for refused in (result, created, cancelled):
        assert refused.exit_code == 2
        assert refused.stdout == ""
        (line,) = [x for x in refused.stderr.splitlines() if "no credentials" not in x]
        assert "in use by another sync" in line
        assert "Traceback" not in refused.output
    assert not (state / "journal.sqlite3").exists()
    assert not (state / "emulator.sqlite3").exists()

    # A lock given back while the command waits: it goes ahead.
    held = open(state / "lock", "a+")  # noqa: SIM115 - closed by the timer
    fcntl.flock(held.fileno(), fcntl.LOCK_EX)
    timer = threading.Timer(0.3, held.close)
    timer.start()
    try:
        waited = invoke("sync", str(path), "--json", "--lock-timeout", "20")
    finally:
        timer.join()
    assert waited.exit_code == 0, waited.output
    assert one_json(waited)["created"] == 1


# --- against a service over HTTP, with credentials ---


@pytest.fixture
def http_service() -> Iterator[tuple[FakeService, str]]:
    """A FakeService that only accepts eid ``e1`` with ``SECRET``, served on 127.0.0.1."""
    service = FakeService(credentials={"e1": SECRET}, seed=3)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["runner"], box["port"] = loop.run_until_complete(serve(service, "127.0.0.1", 0))
        finally:
            ready.set()
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        yield service, f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_credentials_from_env_and_flags_never_print_the_secret(
    tmp_path: Path, http_service: tuple[FakeService, str]
) -> None:
    service, url = http_service
    path = schedule(tmp_path / "s.json", "A", "B")
    env = {"YZJ_EID": "e1", "YZJ_SECRET": SECRET, "YZJ_BASE_URL": url}
    ok = invoke("sync", str(path), "--json", env=env)
    assert ok.exit_code == 0, ok.output
    assert one_json(ok)["created"] == 2
    assert ok.stderr == ""  # credentials given: no emulator line
    assert len(service.meetings) == 2
    again = invoke("sync", str(path), "--eid", "e1", "--secret", SECRET, "--base-url", url)
    assert again.exit_code == 0
    assert re.search(r"unchanged\s*│\s*2", again.stdout)

    schedule(path, "A changed", "B changed")  # so that the run has calls to make
    wrong = invoke("sync", str(path), "--json", "--secret", "wrong-" + SECRET, env=env)
    assert wrong.exit_code == 1
    assert one_json(wrong)["failed"] == 2
    assert "credentials refused" in wrong.stderr
    day = invoke("day", "2026-12-01", "--eid", "e1", "--secret", "bad-" + SECRET, "--base-url", url)
    assert day.exit_code == 1
    for result in (ok, again, wrong, day):
        assert SECRET not in result.output
        assert not TOKEN_RE.search(result.output)
    # Another target: its journal rows are its own (everything is new on the emulator).
    assert one_json(invoke("sync", str(path), "--json", "--dry-run"))["created"] == 2


def test_three_spellings_of_the_base_url_are_one_target(
    tmp_path: Path, http_service: tuple[FakeService, str]
) -> None:
    service, url = http_service
    path = schedule(tmp_path / "s.json", "A", "B")
    host_port = url.removeprefix("http://")
    spellings = [f"{url}/", f"HTTP://{host_port.upper()}", f"{url}//"]
    results = [
        invoke("sync", str(path), "--json", "--eid", "e1", "--secret", SECRET, "--base-url", u)
        for u in spellings
    ]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
    assert [one_json(r)["created"] for r in results] == [2, 0, 0]
    assert [one_json(r)["unchanged"] for r in results] == [0, 2, 2]
    assert len(service.meetings) == 2


@pytest.mark.parametrize("url", ["http://", "http://127.0.0.1:notaport", "127.0.0.1:8080"])
def test_a_malformed_base_url_is_a_usage_error(tmp_path: Path, url: str) -> None:
    path = schedule(tmp_path / "s.json", "A")
    result = invoke("sync", str(path), "--eid", "e", "--secret", "x", "--base-url", url)
    assert result.exit_code == 2
    assert "--base-url" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / ".yzj-meeting").exists()


def test_serve_fake_subprocess(tmp_path: Path) -> None:
    state = tmp_path / "served.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "yzj_meeting.cli", "serve-fake", "--port", "0",
         "--state", str(state)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        env = {"YZJ_EID": "any", "YZJ_SECRET": "any", "YZJ_BASE_URL": match.group(0)}
        result = invoke("sync", str(schedule(tmp_path / "s.json", "Served")), "--json", env=env)
        assert result.exit_code == 0, result.output
        assert "Served" in json.dumps(FakeService.load(state).snapshot(), ensure_ascii=False)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --- packaging: the optional cli extra ---


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_without_the_cli_extra_one_line_and_exit_2(missing: str) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from yzj_meeting.cli import main\n"
        "main(['--help'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "pip install 'yzj-meeting[cli]'" in line


def test_the_library_never_imports_click_or_rich() -> None:
    code = (
        "import sys\n"
        "import yzj_meeting, yzj_meeting.sync, yzj_meeting.cli, yzj_meeting.fake.server\n"
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=os.environ
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_and_version() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("sync", "create", "cancel", "day", "serve-fake"):
        assert name in result.stdout
    assert invoke("sync", "--help").exit_code == 0
    assert invoke("--version").exit_code == 0


def test_create_with_a_lost_answer_says_to_look_first(
    tmp_path: Path, http_service: tuple[FakeService, str]
) -> None:
    service, url = http_service
    service.faults = Faults(script=["drop_after"])  # created, but the answer never arrives
    env = {"YZJ_EID": "e1", "YZJ_SECRET": SECRET, "YZJ_BASE_URL": url}
    result = invoke(
        "create",
        "--openid", OWNER,
        "--title", "Lost answer",
        "--start", "2026-12-01T15:00:00+08:00",
        "--end", "2026-12-01T16:00:00+08:00",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "may or may not have been created" in result.stderr
    assert "yzj-meeting day DATE" in result.stderr
    assert SECRET not in result.output
    assert len(service.meetings) == 1  # sent once, never resent blindly


@pytest.mark.parametrize("name", ["worker", "enqueue", "status", "journal"])
def test_the_worker_commands_are_mounted(name: str) -> None:
    listed = invoke("--help")
    assert name in listed.stdout
    helped = invoke(name, "--help")
    assert helped.exit_code == 0, helped.output
    assert "--database" in helped.stdout or "migrate" in helped.stdout


def test_a_bad_database_url_is_a_usage_error() -> None:
    result = invoke("status", "--database", "mysql://nowhere/db")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
