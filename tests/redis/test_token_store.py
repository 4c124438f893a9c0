"""RedisTokenStore on a real redis-server: one renewal per identity, CAS on the generation."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

from redis.asyncio import Redis

from yzj_meeting import Credentials, TokenProvider
from yzj_meeting.fake import FakeService, FakeTransport
from yzj_meeting.redis import RedisTokenStore
from yzj_meeting.tokens.store import StoredToken, TokenStore, token_identity

from ..support import SECRET
from .conftest import RedisServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDENTITY = token_identity("http://127.0.0.1:1", scope="resGroupSecret", eid="17717", app_id=None)


class Fetcher:
    """A ``fetch`` that counts its calls and issues ``tok-1``, ``tok-2``, ..."""

    def __init__(self, delay: float = 0.0, lifetime: float = 3600.0) -> None:
        self.delay = delay
        self.lifetime = lifetime
        self.calls = 0
        self.given: list[StoredToken | None] = []

    async def __call__(self, current: StoredToken | None) -> StoredToken:
        self.calls += 1
        self.given.append(current)
        n = self.calls
        if self.delay:
            await asyncio.sleep(self.delay)
        return StoredToken(f"tok-{n}", f"ref-{n}", time.time() + self.lifetime)


def test_is_a_token_store(redis_client: Redis) -> None:
    assert isinstance(RedisTokenStore(redis_client), TokenStore)


async def test_first_replace_fetches_once_and_every_store_reads_it(
    redis_client: Redis, redis_server: RedisServer
) -> None:
    fetch = Fetcher(delay=0.05)
    other_client = Redis.from_url(redis_server.url)
    try:
        stores = [RedisTokenStore(redis_client), RedisTokenStore(other_client)]
        got = await asyncio.gather(
            *(stores[n % 2].replace(IDENTITY, None, fetch) for n in range(20))
        )
        assert fetch.calls == 1
        assert {t.access for t in got} == {"tok-1"}
        assert {t.generation for t in got} == {1}
        loaded = await stores[1].load(IDENTITY)
        assert loaded is not None
        assert (loaded.access, loaded.refresh, loaded.generation) == ("tok-1", "ref-1", 1)
        assert loaded.expires_at == got[0].expires_at
    finally:
        await other_client.aclose()


async def test_renewal_runs_once_and_a_stale_caller_reads_the_new_token(
    redis_client: Redis,
) -> None:
    store = RedisTokenStore(redis_client)
    fetch = Fetcher()
    first = await store.replace(IDENTITY, None, fetch)
    renewed = await asyncio.gather(*(store.replace(IDENTITY, first, fetch) for _ in range(10)))
    assert fetch.calls == 2
    assert fetch.given[1] == first  # the fetch got the current token (its refresh token)
    assert {(t.access, t.generation) for t in renewed} == {("tok-2", 2)}
    # A caller still holding the first token gets the second without a fetch.
    assert (await store.replace(IDENTITY, first, fetch)).access == "tok-2"
    assert fetch.calls == 2


async def test_an_expired_stored_token_is_renewed_not_answered(redis_client: Redis) -> None:
    store = RedisTokenStore(redis_client)
    old = await store.replace(IDENTITY, None, Fetcher(lifetime=-1.0))
    fetch = Fetcher()
    fresh = await store.replace(IDENTITY, None, fetch)
    assert fetch.calls == 1
    assert fresh.generation == old.generation + 1


async def test_a_slow_holder_never_overwrites_a_newer_token(redis_client: Redis) -> None:
    # The slow holder's lease expires mid-fetch (as under a holder paused past it, which cannot
    # extend it); another renews; the slow write is refused.
    slow_store = RedisTokenStore(redis_client, lease=0.2)
    quick_store = RedisTokenStore(redis_client, lease=0.2)
    slow = Fetcher(delay=0.8)

    async def quick(current: StoredToken | None) -> StoredToken:
        return StoredToken("quick", None, time.time() + 3600)

    slow_task = asyncio.ensure_future(slow_store.replace(IDENTITY, None, slow))
    await asyncio.sleep(0.05)
    assert slow.calls == 1
    assert await redis_client.delete(slow_store.keys(IDENTITY)[1]) == 1  # the lease expired
    quick_answer = await quick_store.replace(IDENTITY, None, quick)
    slow_answer = await slow_task
    assert quick_answer.access == "quick"
    assert slow_answer == quick_answer
    stored = await quick_store.load(IDENTITY)
    assert stored is not None
    assert (stored.access, stored.generation) == ("quick", 1)


async def test_a_slow_holder_keeps_its_lease_and_the_others_wait(redis_client: Redis) -> None:
    # A token request slower than the lease: its holder extends the lease while it runs, so
    # nobody fetches beside it (a lease shorter than a slow request used to let one in).
    stores = [RedisTokenStore(redis_client, lease=0.2) for _ in range(2)]
    fetch = Fetcher(delay=0.7)
    first = asyncio.ensure_future(stores[0].replace(IDENTITY, None, fetch))
    await asyncio.sleep(0.05)
    assert fetch.calls == 1
    second = await stores[1].replace(IDENTITY, None, fetch)
    assert fetch.calls == 1
    assert (await first) == second
    assert second.access == "tok-1"
    assert await redis_client.exists(stores[0].keys(IDENTITY)[1]) == 0  # released after


async def _holding(server: RedisServer, *args: str) -> asyncio.subprocess.Process:
    """A ``tests.redis._holder`` process, once it holds the renewal lease."""
    holder = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.redis._holder", server.url, IDENTITY, *args),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"holding"
    except BaseException:
        holder.kill()
        await holder.wait()
        raise
    return holder


async def test_a_lease_left_by_a_dead_holder_expires_and_another_renews(
    redis_client: Redis, redis_server: RedisServer
) -> None:
    store = RedisTokenStore(redis_client, lease=0.5)
    lease_key = store.keys(IDENTITY)[1]
    holder = await _holding(redis_server, "0.5")
    try:
        assert await redis_client.exists(lease_key) == 1
        holder.send_signal(signal.SIGKILL)
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()
    fetch = Fetcher()
    token = await store.replace(IDENTITY, None, fetch)
    assert fetch.calls == 1
    assert token.access == "tok-1"
    assert await redis_client.exists(lease_key) == 0  # released by its owner


async def test_every_key_has_a_ttl_and_none_holds_the_secret(redis_client: Redis) -> None:
    credentials = Credentials(eid="17717", secret=SECRET)
    async with FakeTransport(FakeService()) as transport:
        provider = TokenProvider(credentials, base_url="http://127.0.0.1:1", transport=transport)

        async def fetch(current: StoredToken | None) -> StoredToken:
            return StoredToken(await provider.renew(""), None, time.time() + 60)

        store = RedisTokenStore(redis_client)
        first = await store.replace(IDENTITY, None, fetch)
        await store.replace(IDENTITY, first, fetch)
        # Leave a lease behind too, as a holder would while it fetches.
        await redis_client.set(store.keys(IDENTITY)[1], "owner", px=5000)
    dump = await _dump(redis_client)
    assert dump, "nothing was stored"
    for key, (ttl, value) in dump.items():
        assert ttl > 0, key
        assert SECRET not in key
        assert SECRET not in value
        assert "17717" not in key
        assert "127.0.0.1" not in key


async def _dump(client: Redis) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    async for raw in client.scan_iter(count=100):
        key = raw.decode()
        kind = (await client.type(key)).decode()
        value: Any
        if kind == "string":
            value = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        else:
            value = kind
        found[key] = (await client.pttl(key), repr(value))
    return found


async def test_a_holder_paused_after_its_request_left_costs_one_more_request_and_no_overwrite(
    redis_client: Redis, redis_server: RedisServer
) -> None:
    # Inherent: the holder's request reached the server, then the holder was paused (SIGSTOP)
    # past its lease, which it cannot extend while paused. Another process renews: a second
    # request, the only one possible without waiting for a holder that may never come back.
    # Resumed, the holder's write is refused and it answers the other's token.
    store = RedisTokenStore(redis_client, lease=0.5)
    lease_key = store.keys(IDENTITY)[1]
    holder = await _holding(redis_server, "0.5", "0.3")
    try:
        holder.send_signal(signal.SIGSTOP)
        fetch = Fetcher()
        token = await store.replace(IDENTITY, None, fetch)  # waits out the lease, renews
        assert (fetch.calls, token.access) == (1, "tok-1")
        holder.send_signal(signal.SIGCONT)
        answer = await asyncio.wait_for(holder.stdout.readline(), 30)
        assert answer.strip() == b"tok-1"  # its own ("held") was not written
        assert await asyncio.wait_for(holder.wait(), 30) == 0
    finally:
        if holder.returncode is None:
            holder.send_signal(signal.SIGCONT)
            holder.kill()
        await holder.wait()
    stored = await store.load(IDENTITY)
    assert stored is not None
    assert (stored.access, stored.generation) == ("tok-1", 1)
    assert await redis_client.exists(lease_key) == 0
