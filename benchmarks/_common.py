"""What the sections share: subprocesses, the emulator process, statistics, tables, samples."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The work tree whose ``yzj_meeting`` and ``benchmarks`` every subprocess imports."""

EID = "bench-eid"
SECRET = "bench-secret"
GET_TOKEN_PATH = "/gateway/oauth2/token/getAccessToken"
CREATE_PATH = "/gateway/cloudwork/meeting/create"
QUERY_PATH = "/gateway/cloudwork/meeting/queryByDay"
CONTROL = "/__bench__/"
NO_ORJSON = {"YZJ_MEETING_NO_ORJSON": "1"}


class BenchError(RuntimeError):
    """A benchmark could not run (a child failed, the emulator did not start, ...)."""


# --- statistics ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0."""
    return a / b if b else float("nan")


def fmt(value: float, digits: int = 0) -> str:
    """A number with thousands separators, or "n/a" for NaN."""
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def spread(values: Sequence[float], digits: int = 0) -> str:
    """``min-max`` of the rounds, to show the noise beside a median."""
    if not values:
        return "n/a"
    return f"{fmt(min(values), digits)}-{fmt(max(values), digits)}"


# --- reporting -------------------------------------------------------------------------------


@dataclass
class Target:
    """One target of the issue, as measured in this run."""

    name: str
    goal: str
    measured: str
    met: bool
    margin: str = ""


@dataclass
class Section:
    """What a section hands to ``run``: Markdown, targets, and its raw numbers (for JSON)."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table (numbers right-aligned)."""
    cells = [[str(c) for c in row] for row in rows]
    align = [
        "---:" if cells and all(_numeric(r[i]) for r in cells) else "---"
        for i in range(len(headers))
    ]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in cells]
    return out


def _numeric(cell: str) -> bool:
    return cell == "n/a" or re.match(r"[~<>≈]?[+-]?[0-9]", cell) is not None


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


# --- subprocesses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Versus:
    """Another work tree whose SDK is measured beside this one's (``--versus``)."""

    tree: Path
    label: str


def child_env(extra: Mapping[str, str] | None = None, tree: Path | None = None) -> dict[str, str]:
    """The environment of a child: ``tree`` (default this one) first on the path, no orjson
    switch unless given."""
    env = {k: v for k, v in os.environ.items() if k != "YZJ_MEETING_NO_ORJSON"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree or ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run_child(
    module: str,
    function: str,
    args: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    tree: Path | None = None,
) -> dict[str, Any]:
    """Run ``benchmarks.<module>.<function>(args)`` in a fresh interpreter; its dict result.

    ``tree``: import ``yzj_meeting`` from that work tree instead of this one (the child code
    is still this tree's ``benchmarks``).
    """
    cmd = [sys.executable, "-m", "benchmarks._child", module, function, json.dumps(args)]
    if tree is not None:  # this tree's benchmarks package, that tree's yzj_meeting
        cmd[1:3] = [str(ROOT / "benchmarks" / "_foreign.py")]
    try:
        proc = subprocess.run(
            cmd,
            cwd=tree or ROOT,
            env=child_env(env, tree),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{module}.{function} did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{module}.{function} failed (exit {proc.returncode}):\n{tail}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"{module}.{function} printed no result")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Emulator:
    """The emulator (``benchmarks._server``) running in its own process on 127.0.0.1."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def control(self, action: str) -> dict[str, Any]:
        """``reset`` (fresh service), ``stats`` (counters) or ``expire`` (refuse held tokens)."""
        request = urllib.request.Request(self.base_url + CONTROL + action, data=b"{}")
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def cpu(self) -> float:
        """CPU seconds the emulator process has used so far."""
        return process_cpu(self.proc.pid)


@contextlib.contextmanager
def emulator(
    *, calls_per_minute: int | None = None, rate_window: float = 60.0, startup: float = 20.0
) -> Iterator[Emulator]:
    """Start the emulator on a free port, wait until it accepts connections, always reap it."""
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks._server", "--port", str(port)]
    cmd += ["--calls-per-minute", str(calls_per_minute or 0), "--rate-window", str(rate_window)]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            deadline = time.monotonic() + startup
            while True:
                if proc.poll() is not None:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace")[-2000:]
                    raise BenchError(f"the emulator exited ({proc.returncode}):\n{tail}")
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.2),
                ):
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"the emulator did not listen within {startup:.0f} s")
                time.sleep(0.05)
            yield Emulator(proc, port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the machine -----------------------------------------------------------------------------

PACKAGES = ("aiohttp", "yarl", "multidict", "httpx", "attrs", "cattrs", "orjson", "uvloop")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as file:
        kib = int(file.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    versions = {}
    for name in ("yzj-meeting", *PACKAGES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
        "commit": commit,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- samples ---------------------------------------------------------------------------------


def shanghai() -> Any:
    """Asia/Shanghai as the SDK spells it."""
    from yzj_meeting import SHANGHAI

    return SHANGHAI


def sample_create(i: int = 0) -> Any:
    """A typical create: the fields a calendar sync sends, four attendees."""
    from yzj_meeting import CreateMeeting, NoticeTime

    start = datetime(2030, 5, 20, 9, 0, tzinfo=shanghai()) + timedelta(minutes=(i % 600))
    return CreateMeeting(
        openid="5d9c2e7be4b0a8c3f0e1d2c3",
        title=f"Weekly sync #{i}",
        content="Agenda: status, risks, next steps",
        meeting_place="Room 301",
        start_date=start,
        end_date=start + timedelta(minutes=30),
        notice_time=NoticeTime.MINUTES_15,
        top_state=False,
        actors=[f"5d9c2e7be4b0a8c3f0e1d2{n:02d}" for n in range(4)],
        submit_experience=False,
    )


ACTORS = tuple(f"5d9c2e7be4b0a8c3f0e1d2{n:02d}" for n in range(4))
"""The attendees of every sample create (what a caller has at hand before each call)."""
_START = datetime(2030, 5, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def create_inputs(i: int) -> tuple[str, datetime, datetime]:
    """The values that change from create to create ``i``: title, start, end (aware)."""
    start = _START + timedelta(minutes=i % 600)
    return f"Weekly sync #{i}", start, start + timedelta(minutes=30)


def wire_body(model: Any) -> dict[str, Any]:
    """The JSON object the SDK sends for ``model`` (what a hand-written client would post)."""
    from yzj_meeting._convert import unstructure

    return unstructure(model)
