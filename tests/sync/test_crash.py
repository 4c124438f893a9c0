"""Crash safety: ``yzj-meeting sync`` killed with SIGKILL at random instants, then run again.

The emulator runs over HTTP in a subprocess of its own (127.0.0.1, a free port) with a little
latency and a few faults that lose answers after the server acted, so creates end in doubt
through the real stack too. The sync runs in processes that are killed at random delays; then
it runs to completion, faults off. The service must then hold exactly the desired meetings:
each once, none lost, none extra, with the desired content. Phases: first creation, changes
back and forth with prune, then the journal is lost and the same schedule is synced again
(adoption, killed too), then changes again from the adopted journal.

The killed runs are forked from one process that imported the CLI once (``FORKER``), so each
kill lands while the sync works rather than while Python imports (about a second on a busy
machine): fewer interpreter starts, more kill points.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting._convert import to_ms
from yzj_meeting.fake import FakeService
from yzj_meeting.fake.calendar import expand_ms
from yzj_meeting.sync.schedule import load_schedule

SERVER = """
import asyncio, os, sys
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.server import serve

async def main(state, control):
    faults = Faults(latency=0.01, drop_after=0.02, server_error_after=0.02, drop_before=0.01)
    service = FakeService(persist_path=state, calls_per_minute=None, seed=11, faults=faults)
    runner, port = await serve(service, "127.0.0.1", 0)
    print(port, flush=True)
    try:
        while True:
            await asyncio.sleep(0.05)
            if os.path.exists(control):
                service.faults = Faults()
    finally:
        await runner.cleanup()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

FORKER = """
import json, os, sys
import aiohttp, rich.console, rich.progress
import yzj_meeting.cli._main, yzj_meeting.cli.sync, yzj_meeting.fake, yzj_meeting.sync.apply
from yzj_meeting.cli import main

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            main(job["args"])
        except SystemExit as exc:
            os._exit(exc.code if isinstance(exc.code, int) else 1)
        except BaseException:
            os._exit(3)
        os._exit(0)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""

PEOPLE = [f"{0x5F0C6A1B2C3D4E5F60718200 + i:024x}" for i in range(12)]


def make_schedule(rnd: random.Random, singles: int) -> list[dict[str, Any]]:
    meetings: list[dict[str, Any]] = []
    for i in range(singles):
        day, slot = 1 + i % 31, (i // 31) % 16
        hour, minute = 9 + slot // 2, 30 * (slot % 2)
        meetings.append(
            {
                "key": f"single-{i:03d}",
                "openid": PEOPLE[i % 3],
                "title": f"Crash test meeting {i:03d}",
                "start": f"2026-12-{day:02d}T{hour:02d}:{minute:02d}:00+08:00",
                "end": f"2026-12-{day:02d}T{hour:02d}:{minute + 29:02d}:00+08:00",
                "attendees": rnd.sample(PEOPLE, rnd.randint(0, 5)),
                "place": rnd.choice(["Lotus Room 2F", "长江厅 8F", "Online"]),
                "reminder": rnd.choice([-1, 0, 15, 60]),
            }
        )
    for key, rule, day in (
        ("weekly", "weekly", 7),
        ("daily", "daily", 1),
        ("biweekly", "biweekly", 3),
        ("monthly", "monthly", 28),
    ):
        meetings.append(
            {
                "key": f"series-{key}",
                "openid": PEOPLE[0],
                "title": f"Crash test {key} series",
                "start": f"2026-12-{day:02d}T08:00:00+08:00",
                "end": f"2026-12-{day:02d}T08:30:00+08:00",
                "attendees": rnd.sample(PEOPLE, 4),
                "repeat": rule,
                "repeat_until": "2027-02-28" if rule == "monthly" else "2026-12-31",
            }
        )
    return meetings


def change_schedule(rnd: random.Random, meetings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Renames, new attendees, moves, removals (pruned) and additions."""
    out = [dict(m) for m in meetings]
    singles = [m for m in out if m["key"].startswith("single")]
    for m in rnd.sample(singles, 15):
        m["title"] += " (renamed)"
    for m in rnd.sample(singles, 15):
        m["attendees"] = rnd.sample(PEOPLE, rnd.randint(0, 6))
    for m in rnd.sample(singles, 10):
        m["start"] = m["start"].replace(":00:00+", ":05:00+").replace(":30:00+", ":35:00+")
        m["place"] = "Moved"
    series = {m["key"]: m for m in out if m["key"].startswith("series")}
    series["series-weekly"]["title"] = "Crash test weekly sync"
    series["series-weekly"]["attendees"] = PEOPLE[5:8]
    removed = {m["key"] for m in rnd.sample(singles, 20)} | {"series-daily"}
    out = [m for m in out if m["key"] not in removed]
    for i in range(15):
        out.append(
            {
                "key": f"added-{i:02d}",
                "openid": PEOPLE[1],
                "title": f"Crash test added {i:02d}",
                "start": f"2026-12-{10 + i:02d}T19:00:00+08:00",
                "end": f"2026-12-{10 + i:02d}T20:00:00+08:00",
                "attendees": rnd.sample(PEOPLE, 3),
            }
        )
    return out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    state, control = tmp_path / "service.json", tmp_path / "faults-off"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(state), str(control)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())  # the server prints its port once listening
        yield {"url": f"http://127.0.0.1:{port}", "state": state, "control": control}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


class Runner:
    """Runs ``yzj-meeting sync`` in processes and kills some of them."""

    def __init__(self, tmp_path: Path, url: str, rnd: random.Random) -> None:
        self.tmp_path = tmp_path
        script = tmp_path / "forker.py"
        script.write_text(FORKER)
        self.forker = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.state_dir = tmp_path / "state"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("YZJ_")},
            "YZJ_BASE_URL": url,
            "YZJ_EID": "crash-eid",
            "YZJ_SECRET": "crash-secret",
        }
        self.rnd = rnd
        self.runs = self.kills = self.in_doubt_seen = self.pending_seen = 0
        self.max_delay = 0.5

    def args(self, schedule: Path, prune: bool) -> list[str]:
        args = ["sync", str(schedule), "--json"]
        args += ["--state-dir", str(self.state_dir), "--concurrency", "4"]
        return args + (["--prune"] if prune else [])

    def command(self, schedule: Path, prune: bool) -> list[str]:
        return [sys.executable, "-m", "yzj_meeting.cli", *self.args(schedule, prune)]

    def kill_repeatedly(self, schedules: list[Path], prune: bool, kills: int) -> None:
        """Start a sync of each schedule in turn and SIGKILL it after a random delay, until
        ``kills`` runs were killed while working (at most ``4 * kills`` runs). The delay is
        drawn up to ``max_delay``, which shrinks when a run ends before its kill (a run with
        little left to do is short) and grows back after a kill."""
        assert self.forker.stdin is not None
        assert self.forker.stdout is not None
        target = self.kills + kills
        for attempt in range(4 * kills):
            if self.kills >= target:
                break
            job = {
                "args": self.args(schedules[attempt % len(schedules)], prune),
                "cwd": str(self.tmp_path),
                "env": self.env,
            }
            self.forker.stdin.write(json.dumps(job) + "\n")
            self.forker.stdin.flush()
            pid = int(self.forker.stdout.readline())
            self.runs += 1
            time.sleep(self.rnd.uniform(0.02, self.max_delay))
            with contextlib.suppress(ProcessLookupError):  # ended (not reaped: a zombie)
                os.kill(pid, signal.SIGKILL)
            status = int(self.forker.stdout.readline())
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                self.kills += 1
                self.max_delay = min(0.5, self.max_delay * 1.25)
            else:
                self.max_delay = max(0.05, self.max_delay / 2)
            self.count_intents()

    def close(self) -> None:
        if self.forker.stdin is not None:
            self.forker.stdin.close()
        try:
            self.forker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.forker.kill()
            self.forker.wait(timeout=10)
        if self.forker.stdout is not None:
            self.forker.stdout.close()

    def lose_journal(self) -> None:
        """Delete the journal, as a new working directory or machine would not have it."""
        for suffix in ("", "-wal", "-shm"):
            (self.state_dir / f"journal.sqlite3{suffix}").unlink(missing_ok=True)

    def count_intents(self) -> None:
        path = self.state_dir / "journal.sqlite3"
        if not path.exists():
            return
        with sqlite3.connect(path) as db:
            try:
                rows = db.execute(
                    "SELECT pending FROM entries WHERE pending IS NOT NULL"
                ).fetchall()
            except sqlite3.OperationalError:  # killed after creating the file, before its table
                rows = []
        db.close()
        self.pending_seen += len(rows)
        self.in_doubt_seen += sum(1 for (p,) in rows if p in ("create", "cancel"))

    def complete(self, schedule: Path, prune: bool) -> dict[str, int]:
        proc = subprocess.run(
            self.command(schedule, prune),
            env=self.env,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.runs += 1
        assert proc.returncode in (0, 1), proc.stderr
        counts: dict[str, int] = json.loads(proc.stdout)
        assert "crash-secret" not in proc.stdout + proc.stderr
        return counts


def check_service(tmp_path: Path, state: Path, schedule: Path) -> dict[str, int]:
    """The service holds exactly the schedule: returns duplicates, lost and extra counts."""
    meetings = FakeService.load(state).snapshot()["meetings"]
    live = [m for m in meetings if m["status"] != 2]
    expected: dict[tuple[str, int], dict[str, Any]] = {}
    series_of: dict[str, set[str | None]] = {}
    for entry in load_schedule(schedule):
        model = entry.model
        start, end = to_ms(model.start_date), to_ms(model.end_date)
        occurrences = [(start, end)]
        if entry.is_series:
            until = to_ms(model.repeat_end_date)  # type: ignore[union-attr]
            occurrences = expand_ms(start, end, int(model.repeat), until)  # type: ignore[union-attr]
            series_of[model.title] = set()
        for occ_start, occ_end in occurrences:
            expected[(model.title, occ_start)] = {
                "end_date": occ_end,
                "openid": model.openid,
                "actors": sorted(entry.attendees),
                "meeting_place": getattr(model, "meeting_place", None),
            }
    seen = Counter((m["title"], m["start_date"]) for m in live)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    lost = len(set(expected) - set(seen))
    extra = len(set(seen) - set(expected))
    wrong = 0
    for m in live:
        want = expected.get((m["title"], m["start_date"]))
        if want is None:
            continue
        got = {k: (sorted(m[k]) if k == "actors" else m[k]) for k in want}
        wrong += got != want
        if m["title"] in series_of:
            series_of[m["title"]].add(m["batch_id"])
    split_series = sum(1 for batches in series_of.values() if len(batches) != 1)

    # Every key of the journal maps to a live meeting of its title.
    by_id = {m["id"]: m for m in live}
    with sqlite3.connect(tmp_path / "state" / "journal.sqlite3") as db:
        rows = db.execute("SELECT key, meeting_id, pending FROM entries").fetchall()
    db.close()
    keys = {e.key: e.model.title for e in load_schedule(schedule)}
    assert {k for k, _, _ in rows} == set(keys)
    for key, meeting_id, pending in rows:
        assert pending is None
        assert by_id[meeting_id]["title"] == keys[key]
    return {
        "duplicates": duplicates,
        "lost": lost,
        "extra": extra,
        "wrong": wrong,
        "split_series": split_series,
        "live": len(live),
        "expected": len(expected),
    }


def faults_on(server: dict[str, Any]) -> None:
    server["control"].unlink()
    time.sleep(0.2)  # the server looks at the switch every 50 ms


def converge(
    runner: Runner, server: dict[str, Any], schedule: Path, size: int, tmp_path: Path
) -> dict[str, int]:
    """Faults off, run to completion, check a second run has nothing to do, check the service."""
    server["control"].touch()
    time.sleep(0.2)  # the server looks at the switch every 50 ms
    for _ in range(4):
        counts = runner.complete(schedule, prune=True)
        if counts["failed"] == 0:
            break
    assert counts["failed"] == 0, counts
    again = runner.complete(schedule, prune=True)
    nothing = {"created": 0, "adopted": 0, "modified": 0, "cancelled": 0, "failed": 0}
    assert again == {**nothing, "unchanged": size}
    return check_service(tmp_path, server["state"], schedule)


def test_sync_killed_at_random_points_converges_exactly(
    tmp_path: Path, server: dict[str, Any]
) -> None:
    started = time.monotonic()
    rnd = random.Random(int(os.environ.get("YZJ_CRASH_SEED", "20261201")))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    meetings = make_schedule(rnd, singles=240)
    first.write_text(json.dumps(meetings, ensure_ascii=False))
    second.write_text(json.dumps(change_schedule(rnd, meetings), ensure_ascii=False))
    runner = Runner(tmp_path, server["url"], rnd)

    sizes = {first: len(meetings), second: len(json.loads(second.read_text()))}
    try:
        # Phase 1: the first creation, then changes back and forth, killed again and again.
        runner.kill_repeatedly([first], prune=False, kills=6)
        runner.kill_repeatedly([second, first], prune=True, kills=10)
        phase1 = converge(runner, server, first, sizes[first], tmp_path)
        # Phase 2: the same towards the changed schedule, from a converged state.
        faults_on(server)
        runner.kill_repeatedly([second, first], prune=True, kills=10)
        phase2 = converge(runner, server, second, sizes[second], tmp_path)
        # Phase 3: the journal is lost; the same schedule again: adopted, not duplicated.
        made = len(FakeService.load(server["state"]).snapshot()["meetings"])
        runner.lose_journal()
        faults_on(server)
        runner.kill_repeatedly([second], prune=True, kills=14)
        phase3 = converge(runner, server, second, sizes[second], tmp_path)
        # Every key was adopted: not one meeting was created (a lost journal costs lookups).
        phase3["created"] = len(FakeService.load(server["state"]).snapshot()["meetings"]) - made
        # Phase 4: changes and prunes of the adopted keys.
        faults_on(server)
        runner.kill_repeatedly([first, second], prune=True, kills=10)
        phase4 = converge(runner, server, first, sizes[first], tmp_path)
    finally:
        runner.close()

    figures = {
        "runs": runner.runs,
        "kills": runner.kills,
        "intents_left_by_kills": runner.pending_seen,
        "in_doubt_left_by_kills": runner.in_doubt_seen,
        "phase1": phase1,
        "phase2": phase2,
        "phase3": phase3,
        "phase4": phase4,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\ncrash test: {json.dumps(figures)}")
    assert phase3["created"] == 0, figures
    for phase in (phase1, phase2, phase3, phase4):
        assert phase["duplicates"] == phase["lost"] == phase["extra"] == 0, figures
        assert phase["wrong"] == phase["split_series"] == 0, figures
        assert phase["live"] == phase["expected"], figures
    assert runner.kills >= 50, figures
    assert runner.pending_seen >= 10, figures  # kills landed while calls were in flight
