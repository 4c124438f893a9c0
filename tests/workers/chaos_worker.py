"""A worker for the chaos test: ``run_worker`` with short leases, sends labelled with the
sender (target|owner|fence) and, at rates from the environment, SIGKILL of itself right before
a meeting write leaves (after its intent) or right after its answer (before its outcome). It
writes ``CHAOS-ENDED <pid> <epoch s>`` to stderr when it ends (exits, or kills itself), and
every asyncio task's stack (lines ``<pid> TASKS ...``) on SIGUSR1.

``python tests/workers/chaos_worker.py DATABASE TENANTS_FILE [REDIS]``

With ``REDIS`` (a URL) every tenant's token and quota are shared through Redis, as
``yzj-meeting worker --redis URL`` does: a ``RedisTokenStore`` (a short renewal lease) and a
``RedisRateLimiter`` of ``CHAOS_QUOTA`` ("calls/window" seconds); the token is renewed
``CHAOS_REFRESH_MARGIN`` seconds before it expires (the emulator's tokens are short-lived).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import random
import signal
import sys
import time
from typing import Any

import attrs
from procrastinate import RetryStrategy

from yzj_meeting._http import HttpRequest, HttpResponse, Timeout
from yzj_meeting.auth import Credentials, TokenProvider
from yzj_meeting.client import MeetingClient
from yzj_meeting.retry import RetryPolicy
from yzj_meeting.sync.fence import GatedTransport, SendGate
from yzj_meeting.transports.aiohttp import AiohttpTransport
from yzj_meeting.workers import LeaseOptions, Tenant
from yzj_meeting.workers.commands import run_worker

WRITES = {"create", "modify", "cancel", "repeatMeeting", "batchModify", "batchCancel"}
CRASH_BEFORE = float(os.environ.get("CHAOS_CRASH_BEFORE", "0"))
CRASH_AFTER = float(os.environ.get("CHAOS_CRASH_AFTER", "0"))
SEND_BUDGET = float(os.environ.get("CHAOS_SEND_BUDGET", "1.0"))
LEASE = LeaseOptions(ttl=4.0, send_budget=SEND_BUDGET, request_timeout=1.5, wait=30.0)
QUOTA = os.environ.get("CHAOS_QUOTA", "1500/60")
REFRESH_MARGIN = float(os.environ.get("CHAOS_REFRESH_MARGIN", "300"))
ENDED = "CHAOS-ENDED"


def ended() -> None:
    """Tell the test when this process ends (it attributes the token requests lost with it)."""
    sys.stderr.write(f"{ENDED} {os.getpid()} {time.time()!r}\n")
    sys.stderr.flush()


def die() -> None:
    ended()
    os.kill(os.getpid(), signal.SIGKILL)


class Labelled:
    def __init__(self, inner: AiohttpTransport, gate: SendGate) -> None:
        self.inner = inner
        self.gate = gate

    async def send(self, request: HttpRequest) -> HttpResponse:
        write = request.endpoint in WRITES
        if write and random.random() < CRASH_BEFORE:
            die()
        headers = {**request.headers, "X-Yzj-Sender": self.gate.label}
        answer = await self.inner.send(attrs.evolve(request, headers=headers))
        if write and random.random() < CRASH_AFTER:
            die()
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


class Factory:
    """Clients labelled and crash-injected; with ``redis``, sharing tokens and quota there."""

    def __init__(self, redis: str | None) -> None:
        self.shared: dict[str, Any] = {}
        if redis is not None:
            from redis.asyncio import Redis

            from yzj_meeting.redis import RedisRateLimiter, RedisTokenStore

            connection = Redis.from_url(redis, socket_timeout=1.0, socket_connect_timeout=1.0)
            calls, window = QUOTA.split("/")
            self.shared = {
                "token_store": RedisTokenStore(connection, lease=3.0, retry=0.5),
                "rate_limiter": RedisRateLimiter(
                    connection, calls=int(calls), window=float(window), spread=True, retry=0.5
                ),
            }

    def __call__(self, tenant: Tenant, gate: SendGate, timeout: Timeout) -> MeetingClient:
        transport = GatedTransport(Labelled(AiohttpTransport(timeout=timeout), gate), gate)
        credentials = Credentials(eid=tenant.eid, secret=tenant.secret)
        tokens = TokenProvider(
            credentials,
            base_url=tenant.base_url,
            transport=transport,
            store=self.shared.get("token_store"),
            refresh_margin=REFRESH_MARGIN,
            timeout=timeout,
        )
        return MeetingClient(
            token_provider=tokens,
            base_url=tenant.base_url,
            transport=transport,
            timeout=timeout,
            rate_limiter=self.shared.get("rate_limiter"),
            calls_per_minute=None if "rate_limiter" in self.shared else 1500,
            retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.3, deadline=3.0),
        )


def dump_tasks() -> None:
    """Every asyncio task's stack to stderr (SIGUSR1: the test asks when the queue is stuck)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"--- {task.get_name()}\n")
        task.print_stack(limit=12, file=out)
    lines = out.getvalue().splitlines()
    sys.stderr.write("".join(f"{os.getpid()} TASKS {line}\n" for line in lines))
    sys.stderr.flush()


async def work(database: str, tenants_file: str, redis: str | None) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    await run_worker(
        database,
        concurrency=4,
        tenants_file=tenants_file,
        lease=LEASE,
        client_factory=Factory(redis),
        resync_cron=None,
        stalled_after=3.0,
        heartbeat=0.5,
        retry=RetryStrategy(max_attempts=100, wait=1),
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format=f"{os.getpid()} %(name)s %(message)s")
    database, tenants_file = sys.argv[1], sys.argv[2]
    redis = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        asyncio.run(work(database, tenants_file, redis))
    finally:
        ended()


if __name__ == "__main__":
    main()
