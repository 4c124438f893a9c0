"""One token and one quota per tenant, shared by every process (extra ``redis``).

``RedisTokenStore`` is a ``TokenStore``: per identity one hash holds the token, its refresh token,
its wall-clock expiry and its generation. One process at a time renews it, under a lease (``SET NX
PX`` with a random owner, released by its owner only); the write is a compare-and-set on the
generation, so a stale token never overwrites a newer one. The others poll (jittered, bounded) until
the generation moves and read the new token. A holder that dies leaves a lease that expires.

``RedisRateLimiter`` (in ``_redis_quota``) is a ``Limiter``: an exact sliding window per ``(tenant,
interface)``, one Lua script per grant that reads Redis ``TIME`` (one clock for every host),
reserves the earliest slot that keeps at most ``calls`` grants in any ``window`` and answers how
long to wait; the quota also holds across a Redis outage.

Keys live under ``prefix`` with one hash tag per tenant (``yzj:{tenant}:...``, Redis Cluster safe)
and every key has a TTL. The secret is never stored nor part of a key. When Redis is unreachable
both fall back to in-process behaviour, log one WARNING per ``warn_every`` seconds, and go back to
Redis once it answers again: no call fails only because Redis is down. Meanwhile the token store
serves the last token it read from Redis, waits a little for Redis before it fetches a token of
its own, and stores a token it had to fetch in Redis once it answers again (as it stores again
the last token it read when a restarted Redis lost it), so that a Redis restart costs the fleet
no extra token request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
import uuid
from typing import Any

try:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("yzj_meeting.redis needs redis-py: pip install 'yzj-meeting[redis]'") from exc

from ._redis_base import DOWN as _DOWN
from ._redis_base import Health as _Health
from ._redis_base import log
from ._redis_base import text as _text
from ._redis_quota import RedisRateLimiter, RedisSlot
from .tokens.store import Fetch, MemoryTokenStore, StoredToken

__all__ = ["RedisRateLimiter", "RedisSlot", "RedisTokenStore"]

# KEYS[1] the token hash. ARGV: expected generation, access, refresh ("" for none), expires_at,
# TTL in ms. Writes the token with the next generation unless the stored generation moved on
# meanwhile; answers what is stored afterwards (access, refresh, expires_at, generation).
CAS_SCRIPT = """
local stored = redis.call('HGET', KEYS[1], 'generation')
if stored and tonumber(stored) ~= tonumber(ARGV[1]) then
  return redis.call('HMGET', KEYS[1], 'access', 'refresh', 'expires_at', 'generation')
end
local generation = math.max(tonumber(stored or '0'), tonumber(ARGV[1])) + 1
redis.call('HSET', KEYS[1], 'access', ARGV[2], 'refresh', ARGV[3], 'expires_at', ARGV[4],
           'generation', generation)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {ARGV[2], ARGV[3], ARGV[4], tostring(generation)}
"""

# KEYS[1] the lease. ARGV[1] the owner. Deletes the lease only if this owner still holds it.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] the lease. ARGV: the owner, the TTL in ms. Extends the lease only if this owner holds it.
KEEP_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisTokenStore:
    """A ``TokenStore`` on Redis: every process using it shares one token per identity.

    One process at a time renews a token, under a lease that it extends while its token request
    runs (however slow): ``lease`` bounds only how long a killed or paused holder holds the
    others off. Waiters poll every 20-250 ms (jittered) for at most ``lease + 5`` seconds and
    then fetch for themselves. ``keep`` is how long a token stays stored after its expiry (its
    refresh token may still serve). While Redis is unreachable a process that needs a token it
    does not hold first waits up to ``outage_wait`` seconds for Redis to answer (a restart), then
    fetches one and keeps it in this process (one renewal per process), with a WARNING at most
    every ``warn_every`` seconds; Redis is tried again ``retry`` seconds after a failure.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "yzj",
        lease: float = 30.0,
        keep: float = 86400.0,
        retry: float = 1.0,
        warn_every: float = 60.0,
        outage_wait: float = 2.0,
    ) -> None:
        if lease <= 0:
            raise ValueError("lease must be > 0")
        if outage_wait < 0:
            raise ValueError("outage_wait must be >= 0")
        self._redis = redis
        self._prefix = prefix
        self.lease = lease
        self.outage_wait = outage_wait
        self._keep = keep
        self._cas = redis.register_script(CAS_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)
        self._extend = redis.register_script(KEEP_SCRIPT)
        self._local = MemoryTokenStore()
        self._seen: dict[str, StoredToken] = {}  # the last token read from Redis, per identity
        self._outage: dict[str, StoredToken] = {}  # fetched here while Redis was unreachable
        self.health = _Health(
            "RedisTokenStore",
            "tokens are fetched and kept in this process",
            retry=retry,
            warn_every=warn_every,
        )
        self.fetches = 0
        """How many times this store ran ``fetch`` (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r})"

    def keys(self, identity: str) -> tuple[str, str]:
        """The token hash and lease keys of ``identity`` (its digest: no name in clear)."""
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        base = f"{self._prefix}:{{{digest}}}:token"
        return base, base + ":lease"

    async def load(self, identity: str) -> StoredToken | None:
        """The stored token of ``identity``; while Redis is unreachable, the one fetched in this
        process meanwhile, else the last one this process read from Redis if still valid (a
        Redis restart then costs no token request)."""
        if self.health.usable():
            try:
                found = await self._read(self.keys(identity)[0])
            except _DOWN as exc:
                self.health.failed(exc)
            else:
                self.health.ok()
                found = await self._publish(identity, found)
                self._remember(identity, found)
                return found
        local = await self._local.load(identity)
        if local is not None:
            return local
        seen = self._seen.get(identity)
        return seen if seen is not None and seen.expires_at > time.time() else None

    def _remember(self, identity: str, token: StoredToken | None) -> None:
        if token is not None:
            self._seen[identity] = token

    async def _publish(self, identity: str, found: StoredToken | None) -> StoredToken | None:
        """Store in Redis the newest valid token this process holds (fetched while Redis was
        unreachable, or read before Redis lost it in a restart) if it expires later than
        ``found``: the fleet then uses it instead of asking for another one."""
        now = time.time()
        held = [t for t in (self._outage.pop(identity, None), self._seen.get(identity)) if t]
        mine = max(held, key=lambda t: t.expires_at, default=None)
        if mine is None or mine.expires_at <= now:
            return found
        if found is not None and found.expires_at >= mine.expires_at:
            return found
        ttl = max(1000, int((mine.expires_at - now + self._keep) * 1000))
        expected = found.generation if found is not None else 0
        answer = await self._cas(
            keys=[self.keys(identity)[0]],
            args=[expected, mine.access, mine.refresh or "", repr(mine.expires_at), ttl],
        )
        return _parse_fields(answer) or found

    async def replace(self, identity: str, seen: StoredToken | None, fetch: Fetch) -> StoredToken:
        """A token newer than ``seen``: one fetch among every process sharing the store."""
        counted = self._counting(fetch)
        shared, waited = self.health.usable(), False
        while True:
            if shared:
                try:
                    stored = await self._replace_shared(identity, seen, counted)
                except _Fetched as landed:
                    # Fetched, but Redis failed before the write: keep the token here.
                    self.health.failed(landed.cause)
                    kept = await self._local.replace(identity, seen, _given(landed.token))
                    self._outage[identity] = kept
                    return kept
                except _DOWN as exc:
                    self.health.failed(exc)
                else:
                    self.health.ok()
                    self._remember(identity, stored)
                    return stored
            if waited or await self._local.load(identity) not in (None, seen):
                break  # fetched here already (this outage), or Redis did not come back
            # Fetch here only if Redis stays away: a restart is over within a second or two.
            waited = True
            shared = await self._answers(time.monotonic() + self.outage_wait)
            if not shared:
                break
        fetched = await self._local.replace(identity, seen, counted)
        self._outage[identity] = fetched
        return fetched

    async def aclose(self) -> None:
        """Nothing to release: the Redis client is the caller's (close it yourself)."""
        return None

    def _counting(self, fetch: Fetch) -> Fetch:
        async def counted(current: StoredToken | None) -> StoredToken:
            self.fetches += 1
            return await fetch(current)

        return counted

    async def _answers(self, deadline: float) -> bool:
        """Whether Redis answers a PING before ``deadline`` (monotonic), asked every ~100 ms."""
        while True:
            left = deadline - time.monotonic()
            try:  # asyncio.timeout: wait_for (Python < 3.12) can lose a cancellation
                async with asyncio.timeout(max(left, 0.05)):
                    await self._redis.ping()
            except _DOWN:
                pass
            else:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(left, 0.05 + 0.1 * random.random()))

    async def _replace_shared(
        self, identity: str, seen: StoredToken | None, fetch: Fetch
    ) -> StoredToken:
        key, lease_key = self.keys(identity)
        deadline = time.monotonic() + self.lease + 5.0
        delay = 0.02
        while True:
            current = await self._read(key)
            if _newer(current, seen):
                assert current is not None
                return current
            owner = uuid.uuid4().hex
            if await self._redis.set(lease_key, owner, nx=True, px=int(self.lease * 1000)):
                keeper = asyncio.ensure_future(self._keep_lease(lease_key, owner))
                try:
                    return await self._renew(key, seen, fetch)
                finally:
                    keeper.cancel()
                    await self._let_go(lease_key, owner)
            if time.monotonic() >= deadline:
                log.warning("RedisTokenStore: no renewal seen in %.0f s; fetching here", self.lease)
                return await self._renew(key, seen, fetch)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    async def _keep_lease(self, lease_key: str, owner: str) -> None:
        """Extend the lease every third of ``lease`` while its holder's fetch runs: a slow token
        request never lets another process renew beside it (a paused holder cannot extend it)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if not await self._extend(keys=[lease_key], args=[owner, int(self.lease * 1000)]):
                    return  # expired and taken by another meanwhile: its write wins
            except _DOWN:
                continue

    async def _renew(self, key: str, seen: StoredToken | None, fetch: Fetch) -> StoredToken:
        # Re-read under the lease: someone may have renewed between our read and the lease.
        current = await self._read(key)
        if _newer(current, seen):
            assert current is not None
            return current
        fresh = await fetch(current)
        expected = current.generation if current is not None else 0
        ttl = max(1000, int((fresh.expires_at - time.time() + self._keep) * 1000))
        args: list[str | int] = [
            expected,
            fresh.access,
            fresh.refresh or "",
            repr(fresh.expires_at),
            ttl,
        ]
        waited = False
        while True:
            try:
                answer = await self._cas(keys=[key], args=args)
                break
            except _DOWN as exc:
                # The token is fetched: write it once Redis is back rather than have the
                # others fetch one more (only if Redis stays away is it kept in this process).
                if waited or not await self._answers(time.monotonic() + self.outage_wait):
                    raise _Fetched(fresh, exc) from None
                waited = True
        stored = _parse_fields(answer)
        if stored is None:  # pragma: no cover - the script always answers a full token
            raise _Fetched(fresh, RedisError("token write answered nothing"))
        return stored

    async def _let_go(self, lease_key: str, owner: str) -> None:
        with contextlib.suppress(*_DOWN):  # else the lease expires by itself
            await asyncio.shield(self._release(keys=[lease_key], args=[owner]))

    async def _read(self, key: str) -> StoredToken | None:
        fields = await self._redis.hmget(key, ["access", "refresh", "expires_at", "generation"])
        return _parse_fields(fields)


class _Fetched(Exception):
    """A token was fetched but could not be written to Redis."""

    def __init__(self, token: StoredToken, cause: BaseException) -> None:
        super().__init__("token fetched; Redis write failed")
        self.token = token
        self.cause = cause


def _given(token: StoredToken) -> Fetch:
    async def fetch(_: StoredToken | None) -> StoredToken:
        return token

    return fetch


def _newer(current: StoredToken | None, seen: StoredToken | None) -> bool:
    """Is ``current`` a usable token other than ``seen``? (an expired one is not)"""
    if current is None or current.expires_at <= time.time():
        return False
    return seen is None or (current.generation, current.access) != (seen.generation, seen.access)


def _parse_fields(fields: Any) -> StoredToken | None:
    if not fields or fields[0] is None or fields[3] is None:
        return None
    access, refresh, expires_at, generation = (_text(f) if f is not None else "" for f in fields)
    return StoredToken(access, refresh or None, float(expires_at), int(generation))
