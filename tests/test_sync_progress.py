"""``yzj-meeting sync`` progress: the monitor's rate, ETA and quota waits; the ``--json`` lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from yzj_meeting.bulk import Progress
from yzj_meeting.cli import command
from yzj_meeting.cli import sync as cli_sync
from yzj_meeting.cli._progress import WAITING, SyncMonitor, describe

OWNER = "5f0c6a1b2c3d4e5f60718293"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_monitor_eta_counts_the_quota_and_shows_a_wait_once() -> None:
    clock = Clock()
    entered: list[float] = []
    monitor = SyncMonitor(limit=10, window=60.0, clock=clock, on_wait=lambda: entered.append(1))
    assert monitor.eta() is None  # no total yet
    for i in range(10):
        clock.now = float(i)
        monitor.progress(Progress(i + 1, 0, 35))
    clock.now = 10.0
    # 25 left; the window is full: the first waits for the slot of t=0 (50 s), then 24 more
    # at 10 a window: two more windows. At the rate so far it would be 25 s: the quota wins.
    assert monitor.eta() == pytest.approx(50.0 + 2 * 60.0)
    monitor.quota_wait("eid", "create", 50.0)
    monitor.quota_wait("eid", "create", 50.0)  # a second waiting call: no second notice
    assert entered == [1]
    assert monitor.quota_waits == 2
    snapshot = monitor.snapshot()
    assert snapshot["state"] == WAITING
    assert snapshot["quota_wait_s"] == 50.0
    assert (snapshot["done"], snapshot["total"], snapshot["failed"]) == (10, 35, 0)
    line = describe(snapshot)
    assert f"{WAITING} (50 s)" in line
    assert "ETA 2:50" in line
    clock.now = 61.0
    assert monitor.snapshot()["state"] == "running"
    monitor.quota_wait("eid", "create", 1.0)  # a tenth of the window or less: pacing
    assert monitor.quota_waits == 2
    assert monitor.snapshot(final=True)["state"] == "done"


def test_monitor_without_quota_uses_the_rate() -> None:
    clock = Clock()
    monitor = SyncMonitor(limit=None, clock=clock)
    assert monitor.snapshot()["state"] == "planning"
    clock.now = 4.0
    monitor.progress(Progress(8, 1, 10))
    assert monitor.eta() == pytest.approx(1.0)  # 2 left at 2 a second
    snapshot = monitor.snapshot()
    assert snapshot["rate_per_s"] == 2.0
    assert snapshot["failed"] == 1
    assert "1 failed" in describe(snapshot)


def _schedule(path: Path, n: int) -> Path:
    meetings = [
        {
            "key": f"k{i}",
            "openid": OWNER,
            "title": f"Meeting {i}",
            "start": f"2030-03-{i + 1:02d}T09:00:00+08:00",
            "end": f"2030-03-{i + 1:02d}T09:30:00+08:00",
        }
        for i in range(n)
    ]
    path.write_text(json.dumps(meetings), encoding="utf-8")
    return path


@pytest.fixture
def short_quota(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("YZJ_EID", "YZJ_SECRET", "YZJ_BASE_URL", "YZJ_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_sync, "QUOTA_WINDOW", 0.3)  # 4 calls per 0.3 s (+0.5 s margin)
    monkeypatch.setattr(cli_sync, "PROGRESS_INTERVAL", 0.05)


def test_json_progress_lines_on_stderr_with_a_small_quota(
    short_quota: None, tmp_path: Path
) -> None:
    n = 10
    path = _schedule(tmp_path / "s.json", n)
    result = CliRunner().invoke(
        command(), ["sync", str(path), "--json", "--calls-per-minute", "4"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert isinstance(summary, dict)
    assert summary["created"] == n
    notice, *rest = result.stderr.splitlines()
    assert "emulator" in notice
    lines: list[dict[str, Any]] = [json.loads(line) for line in rest]
    assert lines
    assert all(line["event"] == "progress" for line in lines)
    dones = [line["done"] for line in lines]
    assert dones == sorted(dones)
    fails = [line["failed"] for line in lines]
    assert fails == sorted(fails)
    # Calls 5 on wait for the quota: that state is reported, with how long, the moment it starts.
    waiting = [line for line in lines if line["state"] == WAITING]
    assert waiting
    assert all(line["quota_wait_s"] > 0 and line["done"] < n for line in waiting)
    assert all(line["eta_s"] is not None and line["eta_s"] > 0 for line in waiting)
    last = lines[-1]
    assert last["state"] == "done"
    assert last["done"] == last["total"] == summary["created"] + summary["failed"]
    assert last["failed"] == summary["failed"] == 0
    assert last["quota_waits"] >= 1


def test_no_progress_lines_for_a_sync_shorter_than_the_interval(
    short_quota: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_sync, "PROGRESS_INTERVAL", 3600.0)
    path = _schedule(tmp_path / "s.json", 3)
    result = CliRunner().invoke(command(), ["sync", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 3
    assert len(result.stderr.splitlines()) == 1  # the emulator notice only


async def test_rate_limiter_tells_on_wait_before_a_call_waits() -> None:
    from yzj_meeting.limits import RateLimiter

    clock = Clock()
    slept: list[float] = []
    told: list[tuple[str, str, float]] = []

    async def sleep(seconds: float) -> None:
        assert told[-1][2] == seconds  # told before the wait
        slept.append(seconds)

    limiter = RateLimiter(
        2, 10.0, margin=0.0, clock=clock, sleep=sleep, on_wait=lambda *a: told.append(a)
    )
    await limiter.acquire("eid", "create")
    await limiter.acquire("eid", "create")
    assert told == []  # within the quota: no wait, nothing told
    await limiter.acquire("eid", "create")
    assert told == [("eid", "create", 10.0)]
    assert slept == [10.0]


def test_calls_per_minute_must_be_positive(short_quota: None, tmp_path: Path) -> None:
    path = _schedule(tmp_path / "s.json", 1)
    result = CliRunner().invoke(command(), ["sync", str(path), "--calls-per-minute", "0"])
    assert result.exit_code == 2
    assert "--calls-per-minute" in result.stderr
    assert not (tmp_path / ".yzj-meeting").exists()  # nothing sent, nothing written
