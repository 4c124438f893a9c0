"""Issue #11 through the real CLI (``python -m yzj_meeting.cli`` in subprocesses) against the
emulator server in a process of its own: lost and split journals, twins in doubt, a one-off
``create`` while a ``sync`` runs on the embedded emulator. What the service holds is read from
the emulator's state file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.fake import FakeService

SERVER = """
import asyncio, json, os, sys
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.server import serve

async def main(state, control):
    service = FakeService(persist_path=state, calls_per_minute=None, seed=21)
    runner, port = await serve(service, "127.0.0.1", 0)
    print(port, flush=True)
    seen = None
    try:
        while True:
            await asyncio.sleep(0.02)
            try:
                text = open(control).read()
            except FileNotFoundError:
                continue
            if text != seen:
                seen = text
                service.faults = Faults(**json.loads(text))
                open(control + ".ok", "w").write(text)
    finally:
        await runner.cleanup()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

OWNER = "5f0c6a1b2c3d4e5f60718293"
ALICE = "5f0c6a1b2c3d4e5f60718294"
BOB = "5f0c6a1b2c3d4e5f60718295"


class Server:
    def __init__(self, tmp_path: Path) -> None:
        script = tmp_path / "server.py"
        script.write_text(SERVER)
        self.state, self.control = tmp_path / "service.sqlite3", tmp_path / "faults.json"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.state), str(self.control)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def faults(self, **faults: Any) -> None:
        """Set the server's faults; returns once it has taken them."""
        text = json.dumps(faults)
        self.control.write_text(text)
        ack = Path(f"{self.control}.ok")
        for _ in range(500):
            if ack.exists() and ack.read_text() == text:
                return
            time.sleep(0.01)
        raise AssertionError("the server did not take the faults")

    def meetings(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = FakeService.load(self.state).snapshot()["meetings"]
        return data

    def live(self) -> list[dict[str, Any]]:
        return [m for m in self.meetings() if m["status"] != 2]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    served = Server(tmp_path)
    try:
        yield served
    finally:
        served.stop()


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("YZJ_")}


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yzj_meeting.cli", *args],
        cwd=cwd,
        env=env if env is not None else base_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def service_env(url: str) -> dict[str, str]:
    return {**base_env(), "YZJ_EID": "e1", "YZJ_SECRET": "s3cret", "YZJ_BASE_URL": url}


def write(path: Path, meetings: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(meetings, ensure_ascii=False), encoding="utf-8")
    return path


def meeting(key: str, title: str, day: int, hour: int, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "openid": OWNER,
        "title": title,
        "start": f"2026-12-{day:02d}T{hour:02d}:00:00+08:00",
        "end": f"2026-12-{day:02d}T{hour:02d}:45:00+08:00",
        **extra,
    }


def test_two_working_dirs_and_url_spellings_hold_each_key_once(
    tmp_path: Path, server: Server
) -> None:
    meetings = [
        meeting(f"k{i}", f"Review {i % 4}", 1 + i % 3, 9 + i // 3, attendees=[ALICE])
        for i in range(12)
    ]
    meetings += [
        meeting("same-1", "Interview", 5, 10, place="Room A", attendees=[ALICE]),
        meeting("same-2", "Interview", 5, 10, place="Room A", attendees=[ALICE]),
        {**meeting("weekly", "Weekly", 7, 8), "repeat": "weekly", "repeat_until": "2026-12-31"},
    ]
    path = write(tmp_path / "schedule.json", meetings)
    host_port = server.url.removeprefix("http://")
    dirs = [tmp_path / "one", tmp_path / "two", tmp_path / "three"]
    spellings = [server.url, f"HTTP://{host_port}/", f"{server.url}//"]
    results = []
    for where, url in zip(dirs, spellings, strict=True):
        where.mkdir()
        done = cli("sync", str(path), "--json", cwd=where, env=service_env(url))
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
    assert [(r["created"], r["adopted"]) for r in results] == [(15, 0), (0, 15), (0, 15)]
    live = server.live()
    assert len(live) == 14 + 4  # twelve, the two identical interviews, four Mondays
    assert Counter(m["title"] for m in live)["Interview"] == 2
    # Each working dir's journal maps every key, to the same meetings.
    mapped = []
    for where in dirs:
        with sqlite3.connect(where / ".yzj-meeting" / "journal.sqlite3") as db:
            mapped.append(dict(db.execute("SELECT key, meeting_id FROM entries").fetchall()))
        db.close()
    # Identical desired meetings are interchangeable: either twin may adopt either live one.
    twins = [{m.pop("same-1"), m.pop("same-2")} for m in mapped]
    assert twins[0] == twins[1] == twins[2]
    assert len(twins[0]) == 2
    assert mapped[0] == mapped[1] == mapped[2]
    assert len(set(mapped[0].values())) == 13
    # The summary table says so too.
    fourth = tmp_path / "four"
    fourth.mkdir()
    table = cli("sync", str(path), cwd=fourth, env=service_env(server.url))
    assert table.returncode == 0, table.stderr
    lines = [line.strip("│ ").split("│") for line in table.stdout.splitlines() if "│" in line]
    assert {cells[0].strip(): cells[1].strip() for cells in lines}["adopted"] == "15"


def test_twin_creates_in_doubt_only_one_arrived(tmp_path: Path, server: Server) -> None:
    twin = {"title": "Interview slot", "start": "2026-12-03T10:00:00+08:00",
            "end": "2026-12-03T11:00:00+08:00", "openid": OWNER}  # fmt: skip
    path = write(
        tmp_path / "s.json",
        [
            {"key": "a", **twin, "place": "Room A", "attendees": [ALICE]},
            {"key": "b", **twin, "place": "Room B", "attendees": [BOB]},
        ],
    )
    # The day is read (ok); a's create never reaches the server; b's arrives, answer lost.
    server.faults(script=["ok", "drop_before", "drop_after"])
    env = service_env(server.url)
    first = cli("sync", str(path), "--json", "--concurrency", "1", cwd=tmp_path, env=env)
    assert first.returncode == 1, first.stderr
    assert json.loads(first.stdout)["failed"] == 2
    assert [m["meeting_place"] for m in server.live()] == ["Room B"]
    server.faults()
    second = cli("sync", str(path), "--json", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    held = sorted((m["meeting_place"], m["actors"]) for m in server.live())
    assert held == [("Room A", [ALICE]), ("Room B", [BOB])]
    third = cli("sync", str(path), "--json", cwd=tmp_path, env=env)
    assert json.loads(third.stdout)["unchanged"] == 2
    assert len(server.meetings()) == 2


def test_create_during_sync_on_the_embedded_emulator_keeps_every_printed_id(
    tmp_path: Path,
) -> None:
    meetings = [meeting(f"k{i:03d}", f"Bulk {i}", 1 + i % 28, 8 + i % 10) for i in range(300)]
    path = write(tmp_path / "s.json", meetings)
    state = tmp_path / "state"
    env = base_env()
    sync = subprocess.Popen(
        [sys.executable, "-m", "yzj_meeting.cli", "sync", str(path), "--json",
         "--state-dir", str(state)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    creates = []
    for i in range(3):
        args = ["create", "--openid", OWNER, "--title", f"One-off {i}",
                "--start", "2026-12-30T09:00:00+08:00", "--end", "2026-12-30T10:00:00+08:00",
                "--state-dir", str(state), "--lock-timeout", "120"]  # fmt: skip
        creates.append(
            subprocess.Popen(
                [sys.executable, "-m", "yzj_meeting.cli", *args],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    out, err = sync.communicate(timeout=120)
    assert sync.returncode == 0, err
    assert json.loads(out)["created"] == 300
    printed = []
    for proc in creates:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        printed.append(stdout.strip())
    snapshot = FakeService.load(state / "emulator.sqlite3").snapshot()
    stored = {m["id"]: m for m in snapshot["meetings"]}
    for i, meeting_id in enumerate(printed):
        assert stored[meeting_id]["title"] == f"One-off {i}"
        assert stored[meeting_id]["status"] != 2
    assert len(stored) == 303
    again = cli("sync", str(path), "--json", "--state-dir", str(state), cwd=tmp_path)
    assert json.loads(again.stdout)["unchanged"] == 300
