"""persist_path: a SQLite change log that scales and that several processes may share."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting.fake import FakeService, Meeting
from yzj_meeting.fake.store import MeetingStore

from .test_service import DAY, HOUR, OWNER, Api, Clock, meeting, ms

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(clock: Clock) -> Api:
    return login(FakeService(clock=clock, seed=7), clock)


def login(service: FakeService, clock: Clock) -> Api:
    api = Api(service, clock)
    api.login()
    return api


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM changes").fetchone()
    return int(count)


def test_two_services_on_one_file_keep_each_others_changes(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    # The same seed: both draw the same ids, so only the catch-up keeps them apart.
    first = login(FakeService(clock=clock, seed=3, persist_path=path), clock)
    second = login(FakeService(clock=clock, seed=3, persist_path=path), clock)
    made: list[str] = []
    for i in range(12):
        api = (first, second)[i % 2]
        start = ms(2024, 3, 4, 8) + i * HOUR
        made.append(api.create(title=f"m{i}", startDate=start, endDate=start + HOUR))
        if i % 3 == 2:  # the other service cancels a meeting it learnt from the file
            other = (second, first)[i % 2]
            other.ok("cancel", {"id": made[i - 1], "openid": OWNER})
    assert len(set(made)) == 12
    assert [m["title"] for m in first.day(ms(2024, 3, 4))] == [f"m{i}" for i in range(12)]
    third = FakeService(clock=clock, persist_path=path)
    assert set(third.meetings) == set(made)
    cancelled = {made[i - 1] for i in range(12) if i % 3 == 2}
    assert {i for i, m in third.meetings.items() if m.status == 2} == cancelled
    second.service.catch_up()
    assert third.meetings == first.service.meetings == second.service.meetings


WORKER = """
import json, sys, time
from yzj_meeting.fake import FakeService
path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
service = FakeService(seed=5, calls_per_minute=None, persist_path=path)
def call(name, body, token=""):
    kind = "oauth2/token" if name == "getAccessToken" else "cloudwork/meeting"
    query = {"accessToken": token} if token else {}
    answer = service.handle("POST", f"/gateway/{kind}/{name}", query, json.dumps(body).encode())
    result = json.loads(answer.body)
    assert result["success"], result
    return result["data"]
body = {"eid": "e", "secret": "s", "scope": "resGroupSecret", "timestamp": int(time.time() * 1000)}
token = call("getAccessToken", body)["accessToken"]
made, cancelled = [], []
for i in range(count):
    start = 1709517600000 + i * 3600000
    body = {"openid": "o" + tag, "title": tag + str(i), "startDate": start}
    made.append(call("create", {**body, "endDate": start + 60000}, token)["meetingId"])
    if i % 2:
        call("cancel", {"id": made[-2], "openid": "o" + tag}, token)
        cancelled.append(made[-2])
service.close()
print(json.dumps({"made": made, "cancelled": cancelled}))
"""


def test_two_processes_interleaving_lose_nothing(tmp_path: Path) -> None:
    path, count = tmp_path / "state.db", 60
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), tag, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for tag in ("a", "b")
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
        results.append(json.loads(out))
    made = [i for r in results for i in r["made"]]
    cancelled = {i for r in results for i in r["cancelled"]}
    assert len(set(made)) == 2 * count  # no id handed out twice, though both used seed 5
    reopened = FakeService.load(path)
    assert set(reopened.meetings) == set(made)
    assert {i for i, m in reopened.meetings.items() if m.status == 2} == cancelled
    assert sorted(os.listdir(tmp_path)) == ["state.db"]


def _written() -> int:
    with open("/proc/self/io") as file:
        for line in file:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


def _write_cost(service: FakeService, api: Api, start: int) -> tuple[list[str], int]:
    """The SQL statements and the bytes written by ten creates."""
    log = service.change_log
    assert log is not None
    assert log.connection is not None
    log.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # both windows start alike
    statements: list[str] = []
    log.connection.set_trace_callback(statements.append)
    before = _written()
    for i in range(10):
        api.create(startDate=start + i * HOUR, endDate=start + i * HOUR + HOUR)
    written = _written() - before
    log.connection.set_trace_callback(None)
    return statements, written


def test_the_cost_of_a_write_does_not_grow_with_the_meetings(clock: Clock, tmp_path: Path) -> None:
    if not os.path.exists("/proc/self/io"):
        pytest.skip("needs /proc/self/io to count the bytes written")
    service = FakeService(clock=clock, seed=1, persist_path=tmp_path / "state.db")
    api = login(service, clock)
    api.create()
    small_sql, small_bytes = _write_cost(service, api, ms(2024, 3, 5))
    for month in range(3):  # about 3,000 meetings
        start = ms(2025, 1 + 4 * month, 1, 9)
        body = meeting(
            startDate=start, endDate=start + HOUR, repeat=2, repeatEndDate=start + 999 * DAY
        )
        api.ok("repeatMeeting", body)
    assert len(service.meetings) > 3000
    large_sql, large_bytes = _write_cost(service, api, ms(2024, 3, 6))
    # the same statements (numbers aside: seq, ids, times), so the same rows written
    assert [re.sub("[0-9a-f]+", "0", s) for s in large_sql] == [
        re.sub("[0-9a-f]+", "0", s) for s in small_sql
    ]
    assert all("meeting" not in s or "INSERT" in s or "SELECT" in s for s in large_sql)
    # a whole-file rewrite would write about 300 times more here
    assert large_bytes < 2 * small_bytes + 64 * 1024, (small_bytes, large_bytes)


def test_a_json_snapshot_is_converted_once(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    old = login(FakeService(clock=clock, seed=2), clock)
    kept = old.create(actors=["a"])
    old.service.save(path)
    assert json.loads(path.read_text())["format"] == "yzj_meeting.fake/1"
    service = FakeService(clock=clock, seed=2, persist_path=path)
    assert service.meetings == old.service.meetings
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    added = login(service, clock).create(title="new")
    service.close()
    assert set(FakeService.load(path).meetings) == {kept, added}


def test_a_foreign_database_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE mine (x)")
    with pytest.raises(ValueError, match="not a"):
        FakeService(persist_path=path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["mine"]


def test_saving_onto_the_state_file_compacts_it(clock: Clock, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    service = FakeService(clock=clock, seed=4, persist_path=path)
    other = FakeService(clock=clock, seed=4, persist_path=path)
    api = login(service, clock)
    meeting_id = api.create()
    for i in range(5):
        api.ok("modify", meeting(id=meeting_id, title=f"t{i}"))
    assert rows(path) == 6
    service.meetings[meeting_id].content = "by hand"
    service.save(path)
    assert rows(path) == 1
    other.catch_up()
    assert other.meetings == service.meetings
    assert FakeService.load(path).meetings[meeting_id].content == "by hand"


class CountingDict(dict[str, Meeting]):
    reads = 0

    def __getitem__(self, key: str) -> Meeting:
        self.reads += 1
        return super().__getitem__(key)

    def values(self) -> Any:
        raise AssertionError("queryByDay scanned every meeting")


def test_query_by_day_reads_only_that_day(api: Api) -> None:
    for day in range(1, 29):
        api.create(startDate=ms(2024, 2, day, 10), endDate=ms(2024, 2, day, 11))
    api.create(startDate=ms(2024, 2, 5, 15), endDate=ms(2024, 2, 5, 16))
    store: MeetingStore = api.service.store
    counting = CountingDict(store.meetings)
    store.meetings = counting
    assert len(api.day(ms(2024, 2, 5))) == 2
    assert counting.reads == 2
