"""Multi-process pacing through one ``RedisRateLimiter``: how much of the quota a fleet uses.

``python -m benchmarks.redis_pacing [--processes 4] [--calls 50] [--window 2] [--each 100]``
starts a throwaway redis-server (127.0.0.1, free port, no persistence), serves the emulator in
this process with the same quota (``calls`` per ``window`` seconds per interface), and runs
``processes`` child processes that each make ``each`` ``queryByDay`` calls through a shared
``RedisRateLimiter`` (tokens warmed first), once bursting and once with ``spread=True``.

Reported per mode, from the emulator's own arrival times of the calls it admitted: the most in
any window (never above ``calls``), throttled answers (retried by the client), and the
utilisation: ``window`` over the mean gap between call ``k`` and call ``k + calls`` (1.0 means
each call came exactly one window after the one ``calls`` before it, the most a sliding window
allows).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from typing import Any

EID = "17717"
SECRET = "bench-secret"


async def _child(spec: dict[str, Any]) -> None:
    from redis.asyncio import Redis

    from yzj_meeting import Credentials, MeetingClient
    from yzj_meeting.models import QueryByDay
    from yzj_meeting.redis import RedisRateLimiter

    redis = Redis.from_url(spec["redis"])
    limiter = RedisRateLimiter(
        redis,
        calls=spec["calls"],
        window=spec["window"],
        margin=spec["margin"],
        spread=spec["spread"],
    )
    client = MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url=spec["base_url"],
        calls_per_minute=None,
    )
    gate = asyncio.Semaphore(25)
    failed = 0

    async def one() -> None:
        nonlocal failed
        async with gate:
            await limiter.acquire(EID, "queryByDay")
            try:
                await client.query_by_day(QueryByDay(date(2026, 3, 2)))
            except Exception:  # throttled beyond the retry policy: counted, not fatal
                failed += 1

    try:
        await client.token_provider.token()
        await asyncio.gather(*(one() for _ in range(spec["each"])))
    finally:
        await client.aclose()
        await limiter.aclose()
        await redis.aclose()
    sys.exit(1 if failed else 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _mode(args: argparse.Namespace, redis_url: str, spread: bool) -> dict[str, Any]:
    from yzj_meeting.fake import THROTTLED_ERROR_CODE, FakeService
    from yzj_meeting.fake.server import running

    service = FakeService(calls_per_minute=args.calls, rate_window=args.window)
    async with running(service) as base_url:
        spec = {
            "redis": redis_url,
            "base_url": base_url,
            "calls": args.calls,
            "window": args.window,
            "margin": args.margin,
            "spread": spread,
            "each": args.each,
        }
        started = time.monotonic()
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.redis_pacing", "--child", json.dumps(spec)
            )
            for _ in range(args.processes)
        ]
        codes = [await child.wait() for child in children]
        elapsed = time.monotonic() - started
    made = sorted(
        c.time
        for c in service.calls
        if c.endpoint == "queryByDay" and c.error_code != THROTTLED_ERROR_CODE
    )
    gaps = [made[i + args.calls] - made[i] for i in range(len(made) - args.calls)]
    most = max(bisect.bisect_left(made, t + args.window) - i for i, t in enumerate(made))
    return {
        "mode": "spread" if spread else "burst",
        "exit codes": codes,
        "calls": len(made),
        "throttled": sum(1 for c in service.calls if c.error_code == THROTTLED_ERROR_CODE),
        "most in any window": most,
        "utilisation": round(args.window * len(gaps) / sum(gaps), 3) if gaps else None,
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_pacing")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--each", type=int, default=100)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(json.loads(args.child)))
        return
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        redis = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
             "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(0.5)
            for spread in (False, True):
                print(json.dumps(asyncio.run(_mode(args, f"redis://127.0.0.1:{port}/0", spread))))
        finally:
            redis.kill()
            redis.wait()


if __name__ == "__main__":
    main()
