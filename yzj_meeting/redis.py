"""One token and one quota per tenant, shared by every process (extra ``redis``).

``RedisTokenStore`` is a ``TokenStore``: per identity one hash holds the token, its refresh token,
its wall-clock expiry and its generation. One process at a time renews it, under a lease (``SET NX
PX`` with a random owner, released by its owner only); the write is a compare-and-set on the
generation, so a stale token never overwrites a newer one. The others poll (jittered, bounded) until
the generation moves and read the new token. A holder that dies leaves a lease that expires.

``RedisRateLimiter`` is a ``Limiter``: an exact sliding window per ``(tenant, interface)``, one Lua
script per grant that reads Redis ``TIME`` (one clock for every host), reserves the earliest slot
that keeps at most ``calls`` grants in any ``window`` and answers how long to wait.

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
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

try:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("yzj_meeting.redis needs redis-py: pip install 'yzj-meeting[redis]'") from exc

from .limits import RateLimiter
from .tokens.store import Fetch, MemoryTokenStore, StoredToken

__all__ = ["RedisRateLimiter", "RedisTokenStore"]

log = logging.getLogger("yzj_meeting.redis")

#: What "Redis is unreachable" means here: any Redis failure, a socket error or a timeout.
_DOWN = (RedisError, OSError, TimeoutError)

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

# KEYS[1] the grants (sorted set: member -> start time), KEYS[2] "paused until". ARGV: calls,
# window, member. Times are integer µs, written with %d (a Lua number given to redis.call is
# printed with 14 digits, too few for µs since the epoch). Grants are reserved in time order, so
# the new one starts no earlier than the last, nor than one window after the grant ``calls``
# places back: never more than ``calls`` starts in any window. Answers {start, wait}.
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local calls = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then at = math.max(at, tonumber(last[2]) + tonumber(ARGV[4])) end
if redis.call('ZCARD', KEYS[1]) >= calls then
  local back = redis.call('ZRANGE', KEYS[1], -calls, -calls, 'WITHSCORES')
  at = math.max(at, tonumber(back[2]) + window)
end
redis.call('ZADD', KEYS[1], string.format('%d', at), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.floor((at - now + window) / 1000) + 1000)
return {at, at - now}
"""

# KEYS[1] "paused until". ARGV[1] seconds in µs. Never shortens a pause already set.
PAUSE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untl then return current end
redis.call('SET', KEYS[1], string.format('%d', untl), 'PX',
           math.floor(tonumber(ARGV[1]) / 1000) + 1000)
return untl
"""

_PLAIN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _tag(name: str) -> str:
    """A hash-tag body for ``name``: itself when plain, else a digest (no braces, bounded)."""
    if _PLAIN.fullmatch(name):
        return name
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Health:
    """Whether Redis answered lately; one WARNING per ``warn_every`` seconds while it does not."""

    def __init__(self, what: str, fallback: str, *, retry: float, warn_every: float) -> None:
        self._what = what
        self._fallback = fallback
        self._retry = retry
        self._warn_every = warn_every
        self._down_until = float("-inf")
        self._warned_at = float("-inf")
        self.down = False
        self.failures = 0
        """Redis failures seen (for tests and metrics)."""

    def usable(self) -> bool:
        """Try Redis now? (after a failure, not again for ``retry`` seconds)."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self.failures += 1
        self.down = True
        self._down_until = now + self._retry
        if now - self._warned_at >= self._warn_every:
            self._warned_at = now
            log.warning(
                "%s: Redis unreachable (%s: %s); %s until it answers again",
                self._what,
                type(exc).__name__,
                str(exc)[:200],
                self._fallback,
            )

    def ok(self) -> None:
        if self.down:
            self.down = False
            log.warning("%s: Redis answers again; sharing resumes", self._what)


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


@attrs.frozen
class RedisSlot:
    """A grant of ``RedisRateLimiter``: where it is recorded and when it starts (epoch µs by
    Redis ``TIME``; ``None`` when granted by the in-process fallback)."""

    key: str
    member: str
    starts_at: int | None


class RedisRateLimiter:
    """A ``Limiter`` on Redis: at most ``calls`` grants per ``(tenant, interface)`` in any
    ``window`` seconds, counted for every process sharing it.

    ``margin`` is added to the window (as ``RateLimiter`` does) so that unequal delays between a
    grant and the server cannot put two grants one window apart into the same server window.
    ``spread`` also keeps grants ``(window + margin) / calls`` apart: an even flow instead of
    bursts of ``calls`` at once, so that no burst queues at the server and delays stay even (a
    small ``margin`` then suffices).
    While Redis is unreachable each process limits itself to ``fallback_calls`` per window
    (default ``calls // 4``: four processes stay within the quota), logging a WARNING at most
    every ``warn_every`` seconds; Redis is tried again ``retry`` seconds after a failure.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        calls: int = 1500,
        window: float = 60.0,
        prefix: str = "yzj",
        margin: float = 0.5,
        spread: bool = False,
        fallback_calls: int | None = None,
        retry: float = 1.0,
        warn_every: float = 60.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not isinstance(calls, int) or calls < 1:
            raise ValueError("calls must be an int >= 1")
        if window <= 0 or margin < 0:
            raise ValueError("window must be > 0 and margin >= 0")
        self._redis = redis
        self.calls = calls
        self.window = window
        self._window_us = round((window + margin) * 1_000_000)
        self._spacing_us = self._window_us // calls if spread else 0
        self._prefix = prefix
        self._sleep = sleep
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._pause = redis.register_script(PAUSE_SCRIPT)
        self.fallback_calls = fallback_calls or max(1, calls // 4)
        self._local = RateLimiter(self.fallback_calls, window, margin=margin)
        self._paused: dict[str, float] = {}  # key -> monotonic end of a pause seen here
        self._tasks: set[asyncio.Task[None]] = set()
        self.health = _Health(
            "RedisRateLimiter",
            f"each process allows {self.fallback_calls} calls per {window:g} s",
            retry=retry,
            warn_every=warn_every,
        )

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(calls={self.calls}, window={self.window}, prefix={self._prefix!r})"
        )

    def keys(self, tenant: str, interface: str) -> tuple[str, str]:
        """The grants and "paused until" keys of ``(tenant, interface)``."""
        base = f"{self._prefix}:{{{_tag(tenant)}}}:rate:{_tag(interface)}"
        return base, base + ":paused"

    async def acquire(self, tenant: str, interface: str) -> RedisSlot:
        """Wait until one call may start; answer its slot."""
        grants, paused = self.keys(tenant, interface)
        until = self._paused.get(grants)
        if until is not None:
            if until > time.monotonic():
                await self._sleep(until - time.monotonic())
            self._paused.pop(grants, None)
        if self.health.usable():
            member = uuid.uuid4().hex
            try:
                answer = await self._acquire(
                    keys=[grants, paused],
                    args=[self.calls, self._window_us, member, self._spacing_us],
                )
            except _DOWN as exc:
                self.health.failed(exc)
            else:
                self.health.ok()
                slot = RedisSlot(grants, member, int(_text(answer[0])))
                wait = int(_text(answer[1])) / 1_000_000
                if wait > 0:
                    try:
                        await self._sleep(wait)
                    except asyncio.CancelledError:
                        self.give_back(slot)  # never sent: free it for others
                        raise
                return slot
        delay = self._local.reserve(grants)
        if delay > 0:
            await self._sleep(delay)
        return RedisSlot(grants, "", None)

    def give_back(self, slot: object) -> None:
        """Remove the unused grant ``slot`` (in the background; ``aclose`` awaits it)."""
        if isinstance(slot, RedisSlot) and slot.starts_at is not None:
            self._spawn(self._redis.zrem(slot.key, slot.member))

    def pause(self, tenant: str, interface: str, seconds: float) -> None:
        """Grant nothing for ``(tenant, interface)`` for ``seconds``, in every process."""
        if seconds <= 0:
            return
        grants, paused = self.keys(tenant, interface)
        end = time.monotonic() + seconds
        self._paused[grants] = max(end, self._paused.get(grants, end))
        self._spawn(self._pause(keys=[paused], args=[round(seconds * 1_000_000)]))

    async def aclose(self) -> None:
        """Wait for the background give-backs and pauses (the Redis client is the caller's)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except _DOWN as exc:
                self.health.failed(exc)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
