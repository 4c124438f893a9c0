"""``python -m tests.redis._holder URL IDENTITY LEASE [ANSWER_AFTER]``: take the renewal lease of
IDENTITY and hang in the fetch (printing ``holding``) until killed, as a process SIGKILLed
mid-renewal; with ANSWER_AFTER, the fetch answers ``held`` after that many seconds (a request
that reached the server) and the token the store ends with is printed (its access)."""

from __future__ import annotations

import asyncio
import sys
import time

from redis.asyncio import Redis

from yzj_meeting.redis import RedisTokenStore
from yzj_meeting.tokens.store import StoredToken


async def main(url: str, identity: str, lease: float, answer_after: float | None) -> None:
    client = Redis.from_url(url)
    store = RedisTokenStore(client, lease=lease)

    async def hang(current: StoredToken | None) -> StoredToken:
        print("holding", flush=True)
        if answer_after is None:
            await asyncio.sleep(3600)
            raise AssertionError("not killed")
        await asyncio.sleep(answer_after)
        return StoredToken("held", None, time.time() + 3600)

    token = await store.replace(identity, None, hang)
    print(token.access, flush=True)
    await client.aclose()


if __name__ == "__main__":
    after = float(sys.argv[4]) if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), after))
