"""Chaos: worker subprocesses syncing 20 tenants x 100 meetings against the emulator server
with faults, while workers are SIGKILLed (at random and right after an intent or an answer),
one is SIGSTOPped past its lease then resumed, and PostgreSQL restarts. Afterwards, from the
emulator's state and request log: every tenant holds exactly its desired meetings, no call left
a worker after another took its tenant's fence, and no secret is in the database.

Bounded: one scenario, at most ~60 s of chaos and convergence (``DEADLINE``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from yzj_meeting.workers.commands import enqueue, journal_migrate

from .pgcluster import PgCluster, find_bindir
from .support import SECRET, write_schedule

TENANTS = 20
MEETINGS = 100
WORKERS = 4
CHAOS_SECONDS = 20.0
DEADLINE = 60.0
FAULTS = {"drop_after": 0.02, "server_error": 0.02, "drop_before": 0.01}
HERE = Path(__file__).parent


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own: it is restarted mid-run."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = PgCluster(bindir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def emulator() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "chaos_server.py"), json.dumps(FAULTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


class Workers:
    """The worker subprocesses, respawned when they die."""

    def __init__(self, database: str, tenants_file: Path, log: Path) -> None:
        self.args = [sys.executable, str(HERE / "chaos_worker.py"), database, str(tenants_file)]
        self.log = log.open("a")
        self.env = {
            **os.environ,
            "CHAOS_CRASH_BEFORE": "0.003",
            "CHAOS_CRASH_AFTER": "0.003",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.events: collections.Counter[str] = collections.Counter()

    def spawn(self, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.args, env=env or self.env, stderr=self.log, stdout=self.log)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def top_up(self, count: int, env: dict[str, str] | None = None) -> None:
        for proc in self.procs:
            if proc.poll() is not None and proc.returncode != 0:
                self.events[f"exit {proc.returncode}"] += 1
        self.procs = self.alive()
        while len(self.procs) < count:
            self.spawn(env)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.log.close()


def sync_jobs_open(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            found = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = "
                "'yzj_meeting.sync_tenant' AND status IN ('todo', 'doing')"
            ).fetchone()
    except psycopg.OperationalError:
        return -1
    assert found is not None
    return int(found[0])


def desired(paths: dict[str, Path]) -> dict[str, list[str]]:
    return {
        eid: sorted(r["title"] for r in json.loads(path.read_text())) for eid, path in paths.items()
    }


def held(meetings: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per tenant, the titles of its live meetings, one per series."""
    seen: dict[str, str] = {}
    for m in meetings:
        if m["status"] != 2:
            seen.setdefault(m["batch"] or m["id"], m["title"])
    found: dict[str, list[str]] = collections.defaultdict(list)
    for title in seen.values():
        found[title.split(" ", 1)[0]].append(title)
    return {eid: sorted(titles) for eid, titles in found.items()}


def late_calls(url: str, log: list[list[Any]]) -> list[Any]:
    """Calls that reached the service after a newer fence of their tenant was taken."""
    with psycopg.connect(url) as conn:
        taken = conn.execute(
            "SELECT target, fence, extract(epoch FROM acquired_at)::float8 FROM yzj_lease_log"
        ).fetchall()
    by_target: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    for target, fence, at in taken:
        by_target[target].append((fence, at))
    late = []
    for arrived, sender, endpoint, _title in log:
        target, _owner, fence = sender.split("|")
        newer = [at for f, at in by_target[target] if f > int(fence)]
        if newer and arrived >= min(newer):
            late.append((arrived, sender, endpoint, min(newer)))
    return late


def diagnose(url: str, log: list[list[Any]], wrong: dict[str, Any], t0: float) -> Any:
    """Who sent the wrong meetings' calls, the tenant's fences and runs (relative times)."""
    out: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        for eid, diff in wrong.items():
            titles = {t.removesuffix(" v2") for t in diff["extra"] + diff["missing"]}
            out[eid] = {
                "diff": diff,
                "calls": [
                    (round(a - t0, 3), s.split("|", 1)[1], e, ti)
                    for a, s, e, ti in log
                    if s.startswith(("http", ""))
                    and ti
                    and ti.removesuffix(" v2") in titles
                    and f"#{eid}|" in s
                ],
                "fences": [
                    (f, o, round(at - t0, 3))
                    for f, o, at in conn.execute(
                        "SELECT fence, owner, extract(epoch FROM acquired_at)::float8 "
                        "FROM yzj_lease_log WHERE target LIKE %s ORDER BY fence",
                        (f"%#{eid}",),
                    )
                ],
                "runs": conn.execute(
                    "SELECT fence, outcome, counts, errors FROM yzj_runs WHERE eid = %s "
                    "ORDER BY id",
                    (eid,),
                ).fetchall(),
            }
    return out


async def test_chaos(cluster: PgCluster, emulator: str, tmp_path: Path) -> None:
    rng = random.Random(20261201)
    url = cluster.url
    await journal_migrate(url)
    eids = [f"t{i:02d}" for i in range(TENANTS)]
    tenants_file = tmp_path / "tenants.json"
    tenants_file.write_text(
        json.dumps({eid: {"secret": f"{SECRET}-{eid}", "base_url": emulator} for eid in eids})
    )
    paths = {
        eid: write_schedule(tmp_path / f"{eid}.json", eid, MEETINGS, series_every=10)
        for eid in eids
    }
    for eid in eids:
        await enqueue(paths[eid], eid, url)

    workers = Workers(url, tenants_file, tmp_path / "workers.log")
    started = time.monotonic()
    started_wall = time.time()
    stopped: subprocess.Popen[bytes] | None = None
    try:
        workers.top_up(WORKERS)
        actions = ["kill"] * 5 + ["stop", "restart-db", "edit"]
        rng.shuffle(actions)
        for action in actions:
            await asyncio.sleep(CHAOS_SECONDS / len(actions) * rng.uniform(0.6, 1.4))
            workers.top_up(WORKERS)  # crash injections may have killed some meanwhile
            if action == "kill" and workers.alive():
                os.kill(rng.choice(workers.alive()).pid, signal.SIGKILL)
                workers.events["sigkill"] += 1
            elif action == "stop" and workers.alive():
                stopped = rng.choice(workers.alive())
                os.kill(stopped.pid, signal.SIGSTOP)
                workers.events["sigstop"] += 1
                workers.spawn()  # the others carry on meanwhile
            elif action == "restart-db":
                await asyncio.to_thread(cluster.restart)
                workers.events["postgresql restart"] += 1
            elif action == "edit":
                # Five tenants change ten meetings each: modifies, under the same chaos.
                for eid in eids[:5]:
                    records = json.loads(paths[eid].read_text())
                    for record in records[1:100:10]:
                        record["title"] += " v2"
                    paths[eid].write_text(json.dumps(records))
                    await enqueue(paths[eid], eid, url)
            if stopped is not None and action != "stop":
                os.kill(stopped.pid, signal.SIGCONT)  # resumed long past its lease
                workers.events["sigcont"] += 1
                stopped = None
            workers.top_up(WORKERS)
        if stopped is not None:
            await asyncio.sleep(5)
            os.kill(stopped.pid, signal.SIGCONT)
            workers.events["sigcont"] += 1
        chaos_done = time.monotonic()
        # Converge: no more crashes injected; wait for the queue to drain.
        calm = {**os.environ}
        for proc in workers.alive():
            proc.terminate()
        workers.top_up(WORKERS, calm)
        while sync_jobs_open(url) != 0:
            assert time.monotonic() - started < DEADLINE, "the jobs did not drain in time"
            workers.top_up(WORKERS, calm)
            await asyncio.sleep(0.5)
        converged = time.monotonic()
    finally:
        workers.stop()

    log = get_json(f"{emulator}/_chaos/log")
    meetings = get_json(f"{emulator}/_chaos/meetings")
    have, want = held(meetings), desired(paths)
    wrong = {
        eid: {
            "extra": sorted(
                (collections.Counter(have.get(eid, [])) - collections.Counter(titles)).elements()
            ),
            "missing": sorted(
                (collections.Counter(titles) - collections.Counter(have.get(eid, []))).elements()
            ),
        }
        for eid, titles in want.items()
        if sorted(have.get(eid, [])) != titles
    }
    if wrong:
        print(json.dumps(diagnose(url, log, wrong, started_wall), indent=1, default=str))
    assert wrong == {}  # nothing lost, nothing twice, edits applied
    assert late_calls(url, log) == []  # no call after the tenant's fence moved on
    with psycopg.connect(url) as conn:
        pending = conn.execute("SELECT count(*) FROM yzj_journal WHERE pending IS NOT NULL")
        assert pending.fetchone() == (0,)
        takeovers = conn.execute("SELECT count(*) - count(DISTINCT target) FROM yzj_lease_log")
        (extra_fences,) = takeovers.fetchone() or (0,)
        dump = "\n".join(
            repr(row)
            for table in (
                "yzj_journal",
                "yzj_leases",
                "yzj_runs",
                "yzj_tenants",
                "procrastinate_jobs",
            )
            for row in conn.execute(f"SELECT * FROM {table}")
        )
    assert SECRET not in dump
    per_tenant_minute: collections.Counter[tuple[str, str, int]] = collections.Counter()
    tokens: collections.Counter[str] = collections.Counter()
    for arrived, sender, endpoint, _title in log:
        eid = sender.split("|")[0].rsplit("#", 1)[-1]
        per_tenant_minute[(eid, endpoint, int(arrived // 60))] += 1
        if endpoint == "getAccessToken":
            tokens[eid] += 1
    busiest = max(per_tenant_minute.values())
    assert busiest <= 1500  # the per-tenant, per-interface quota in any clock minute
    figures = {
        "calls": len(log),
        "chaos_s": round(chaos_done - started, 1),
        "converged_s": round(converged - started, 1),
        "lease_takeovers": int(extra_fences),
        "busiest_tenant_interface_minute": busiest,
        "max_token_requests_per_tenant": max(tokens.values()),
        **dict(workers.events),
    }
    print(f"\nchaos figures: {json.dumps(figures)}")
