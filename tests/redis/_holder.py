"""``python -m tests.redis._holder URL IDENTITY LEASE``: take the renewal lease of IDENTITY and
hang in the fetch (printing ``holding``) until killed, as a process SIGKILLed mid-renewal."""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from yzj_meeting.redis import RedisTokenStore
from yzj_meeting.tokens.store import StoredToken


async def main(url: str, identity: str, lease: float) -> None:
    client = Redis.from_url(url)
    store = RedisTokenStore(client, lease=lease)

    async def hang(current: StoredToken | None) -> StoredToken:
        print("holding", flush=True)
        await asyncio.sleep(3600)
        raise AssertionError("not killed")

    await store.replace(identity, None, hang)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
