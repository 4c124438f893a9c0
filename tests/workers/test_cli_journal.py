"""``yzj-meeting sync FILE --journal postgresql://...`` through the real CLI (a subprocess) on
the emulator server: a sync, a re-run that sends nothing, a run killed with SIGKILL mid-way and
re-run (exactly the schedule's meetings), and the usage errors (exit 2, nothing sent)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from yzj_meeting.cli import command
from yzj_meeting.workers.commands import status

from .emulator import desired, differences, emulator_server, held, request_log
from .support import SECRET, database_text, single, write_schedule

WRITES = {"create", "repeatMeeting", "modify", "batchModify", "cancel", "batchCancel"}


@pytest.fixture
def emulator() -> Iterator[str]:
    with emulator_server({"latency": 0.05}) as url:
        yield url


def argv(path: Path, eid: str, url: str, emulator: str) -> list[str]:
    return [
        *(sys.executable, "-m", "yzj_meeting.cli", "sync", str(path)),
        *("--journal", url, "--eid", eid, "--base-url", emulator),
        *("--lease-ttl", "3", "--lock-timeout", "30", "--concurrency", "4", "--json"),
    ]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YZJ_")}
    return {**env, "YZJ_SECRET": SECRET}


def sync(path: Path, eid: str, url: str, emulator: str) -> dict[str, int]:
    done = subprocess.run(
        argv(path, eid, url, emulator), env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    counts: dict[str, int] = json.loads(done.stdout)
    return counts


def writes(emulator: str, eid: str, since: float = 0.0) -> int:
    return sum(
        1
        for arrived, _sender, endpoint, title in request_log(emulator)
        if endpoint in WRITES and arrived >= since and (title or "").startswith(f"{eid} ")
    )


def test_sync_rerun_and_kill_9(pg_url: str, emulator: str, tmp_path: Path) -> None:
    paths = {
        eid: write_schedule(tmp_path / f"{eid}.json", eid, 40, series_every=10)
        for eid in ("c1", "c2")
    }
    # A sync, then a re-run that sends nothing.
    counts = sync(paths["c1"], "c1", pg_url, emulator)
    assert counts["created"] == 40
    assert differences(held(emulator), desired({"c1": paths["c1"]})) == {}
    again = time.time()
    counts = sync(paths["c1"], "c1", pg_url, emulator)
    assert counts["unchanged"] == 40
    assert counts["created"] == 0
    assert writes(emulator, "c1", since=again) == 0

    # Killed with SIGKILL once some meetings were sent (intents in doubt), then re-run.
    proc = subprocess.Popen(
        argv(paths["c2"], "c2", pg_url, emulator),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while writes(emulator, "c2") < 12 and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    killed_after = writes(emulator, "c2")
    assert 12 <= killed_after < 40  # really mid-run
    sync(paths["c2"], "c2", pg_url, emulator)  # waits out the dead run's lease
    assert differences(held(emulator), desired(paths)) == {}
    report = {t.eid: t for t in asyncio.run(status(pg_url))}
    assert report["c2"].last_outcome == "ok"
    assert report["c2"].in_doubt == ()
    assert SECRET not in database_text(pg_url)


def test_calls_per_minute_holds_on_the_shared_journal(
    pg_url: str, emulator: str, tmp_path: Path
) -> None:
    schedule = tmp_path / "q1.json"  # one day: one queryByDay, then four creates
    schedule.write_text(
        json.dumps(
            [
                single(
                    f"q1-k{i}",
                    title=f"q1 meeting {i}",
                    start=f"2026-12-01T1{i}:00:00+08:00",
                    end=f"2026-12-01T1{i}:30:00+08:00",
                )
                for i in range(4)
            ]
        )
    )
    proc = subprocess.Popen(
        [*argv(schedule, "q1", pg_url, emulator), "--calls-per-minute", "2"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while writes(emulator, "q1") < 2 and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(2.0)  # the third create would be long sent without the quota
        assert writes(emulator, "q1") == 2  # two creates a minute: the rest wait for the quota
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    sync(schedule, "q1", pg_url, emulator)  # the default quota: the rest, once
    assert differences(held(emulator), desired({"q1": schedule})) == {}


def test_usage_errors_exit_2_and_send_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = write_schedule(tmp_path / "u1.json", "u1", 2)
    runner = CliRunner()
    base = ["sync", str(schedule), "--eid", "u1", "--secret", SECRET]
    base += ["--base-url", "http://127.0.0.1:9"]  # nothing listens: nothing could be sent

    def run(*args: str) -> str:
        result = runner.invoke(command(), [*base, *args])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert SECRET not in result.output
        return result.output

    assert "postgresql://" in run("--journal", "mysql://x/y")
    assert "port" in run("--journal", "postgresql://u:pw@h:abc/db")
    malformed = run("--journal", "postgresql://u:hunter2@[::1/db")
    assert "not a valid PostgreSQL URL" in malformed
    assert "hunter2" not in malformed
    result = runner.invoke(
        command(), ["sync", str(schedule), "--journal", "postgresql://127.0.0.1:9/db"]
    )
    assert result.exit_code == 2
    assert "--eid" in result.output
    # Without the workers extra (psycopg, procrastinate): a usage error naming it.
    monkeypatch.setitem(sys.modules, "yzj_meeting.workers.commands", None)
    assert "workers extra" in run("--journal", "postgresql://127.0.0.1:9/db")
