"""Where access tokens live: the seam that lets several processes share one token.

A ``TokenStore`` keeps, per identity, the current token with its refresh token, its wall-clock
expiry and a generation number. ``TokenProvider`` fronts a store with an in-process cache, so the
hot path never awaits the store. ``MemoryTokenStore`` (the default) is one process's store; the
Redis store (extra ``redis``) shares a token across processes and hosts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["MemoryTokenStore", "StoredToken", "TokenStore", "token_identity"]


@attrs.frozen
class StoredToken:
    """One issued token. ``expires_at`` is epoch seconds (wall clock, readable by any host);
    ``generation`` grows by one with every token stored for an identity."""

    access: str = attrs.field(repr=False)
    refresh: str | None = attrs.field(repr=False)
    expires_at: float
    generation: int = 0


Fetch = Callable[[StoredToken | None], Awaitable[StoredToken]]
"""Asks the token endpoint for a new token, given the current one (its refresh token)."""


@runtime_checkable
class TokenStore(Protocol):
    """Shared storage of tokens, keyed by an identity that never contains the secret."""

    async def load(self, identity: str) -> StoredToken | None:
        """The stored token of ``identity``, or ``None``."""
        ...

    async def replace(self, identity: str, seen: StoredToken | None, fetch: Fetch) -> StoredToken:
        """A token newer than ``seen``.

        If the stored token is no longer ``seen`` (someone else replaced it) it is answered as it
        is. Otherwise ``fetch(current)`` runs, for at most one caller per identity among all that
        share the store, and its result is stored with the next generation; a result older than
        what is stored meanwhile never overwrites it.
        """
        ...

    async def aclose(self) -> None:
        """Release what the store holds (connections it made, background tasks)."""
        ...


def token_identity(base_url: str, *, scope: str, eid: str | None, app_id: str | None) -> str:
    """The key of one token: canonical base URL, scope, eid, app id (never the secret)."""
    from .._urls import canonical_base_url

    return "|".join((canonical_base_url(base_url), scope, eid or "", app_id or ""))


class MemoryTokenStore:
    """The in-process store: one lock per identity serialises replacements."""

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore(<{len(self._tokens)} identities>)"

    async def load(self, identity: str) -> StoredToken | None:
        return self._tokens.get(identity)

    async def replace(self, identity: str, seen: StoredToken | None, fetch: Fetch) -> StoredToken:
        lock = self._locks.setdefault(identity, asyncio.Lock())
        async with lock:
            current = self._tokens.get(identity)
            if current is not None and current != seen:
                return current
            fresh = await fetch(current)
            generation = (current.generation if current is not None else 0) + 1
            stored = attrs.evolve(fresh, generation=generation)
            self._tokens[identity] = stored
            return stored

    async def aclose(self) -> None:
        return None
