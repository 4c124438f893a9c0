"""``python -m tests.redis._fleet JSON``: one process of a fleet sharing Redis, for the tests.

JSON: ``redis`` (URL), ``base_url`` (the emulator), ``calls`` per phase, ``concurrency``,
``phases`` (between two phases it prints ``ready`` and waits for a line on stdin), ``warm``
(get the token before the first call),
``token_store`` (share tokens through a ``RedisTokenStore``), ``limiter`` (``{"calls",
"window", "margin", "spread"}`` for a shared ``RedisRateLimiter``, or null). Prints
``{"ok": N, "errors": [...]}``.

When ``MeetingClient`` does not take ``rate_limiter=`` yet, the limiter is applied around each call
here (acquire, then send with the client's own limit off), which is what the client does.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from datetime import date
from typing import Any

from redis.asyncio import Redis

from yzj_meeting import Credentials, MeetingClient
from yzj_meeting.models import QueryByDay
from yzj_meeting.redis import RedisRateLimiter, RedisTokenStore

EID = "17717"
SECRET = "SeCrEt-9f3Kq7Zp-NEVER-LOG"  # the same as tests.support.SECRET
WIRED = "rate_limiter" in inspect.signature(MeetingClient).parameters


async def main(spec: dict[str, Any]) -> None:
    redis = Redis.from_url(spec["redis"])
    kwargs: dict[str, Any] = {"calls_per_minute": None}
    limiter = None
    if spec.get("limiter"):
        lim = spec["limiter"]
        limiter = RedisRateLimiter(
            redis,
            calls=lim["calls"],
            window=lim["window"],
            margin=lim["margin"],
            spread=lim.get("spread", False),
        )
        if WIRED:
            kwargs["rate_limiter"] = limiter
    if spec.get("token_store"):
        kwargs["token_store"] = RedisTokenStore(redis, lease=spec.get("lease", 30.0))
    client = MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET), base_url=spec["base_url"], **kwargs
    )
    ok = 0
    errors: list[str] = []
    gate = asyncio.Semaphore(spec["concurrency"])

    async def one() -> None:
        nonlocal ok
        async with gate:
            try:
                if limiter is not None and not WIRED:
                    await limiter.acquire(EID, "queryByDay")
                await client.query_by_day(QueryByDay(date(2026, 3, 2)))
                ok += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    try:
        if spec.get("warm"):  # the token first, so the first grants wait for no token fetch
            await client.token_provider.token()
        for phase in range(spec.get("phases", 1)):
            if phase:
                print("ready", flush=True)
                await asyncio.to_thread(sys.stdin.readline)
            await asyncio.gather(*(one() for _ in range(spec["calls"])))
    finally:
        await client.aclose()
        if limiter is not None:
            await limiter.aclose()
        await redis.aclose()
    print(json.dumps({"ok": ok, "errors": errors[:5]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
