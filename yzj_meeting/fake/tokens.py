"""Token issuing, refresh and expiry: getAccessToken, refreshToken and the accessToken check.

Scope ``resGroupSecret`` is checked against ``credentials[eid]``, ``app`` against
``credentials[appId]``, ``team`` against ``credentials[appId]`` or ``credentials[eid]``; a
missing ``scope`` is refused. ``expireIn`` is the remaining lifetime in whole seconds. Refresh
tokens do not expire by time but rotate: each identity has one valid refresh token, that of its
newest access token; using it issues a new pair and retires it. Tokens live in memory only.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .codes import TOKEN_ERROR_CODE, TOKEN_REQUEST_ERROR_CODE, Refusal
from .fields import required_int

__all__ = ["TIMESTAMP_SKEW", "Tokens"]

TIMESTAMP_SKEW: Final = 180.0


@attrs.define
class _Grant:
    identity: tuple[str, ...]
    access_token: str
    refresh_token: str
    expires_at: float


def _refused(message: str) -> Refusal:
    return Refusal(TOKEN_REQUEST_ERROR_CODE, message)


class Tokens:
    """The tokens handed out, by access token, refresh token and identity."""

    def __init__(self, rng: random.Random, credentials: Mapping[str, str] | None, ttl: int) -> None:
        self.credentials = credentials
        self.ttl = ttl
        self._random = rng
        self._tokens: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._grants: dict[tuple[str, ...], _Grant] = {}

    def check(self, token: str | None, expire: bool, now: float) -> str | None:
        """Refuse a missing, unknown or expired ``token``; ``expire`` expires it first.

        Returns the token's workspace (``eid``; None for an ``app`` token).
        """
        grant = self._tokens.get(token) if token else None
        if grant is not None and expire:
            grant.expires_at = now
        if grant is None or grant.expires_at <= now:
            raise Refusal(TOKEN_ERROR_CODE, "accessToken is missing, unknown or expired")
        scope, *ids = grant.identity
        return ids[0] if scope in ("resGroupSecret", "team") else None

    def expire_all(self) -> None:
        """Expire every access token issued so far (refresh tokens stay usable)."""
        for grant in self._tokens.values():
            grant.expires_at = float("-inf")

    def answer(self, name: str, body: dict[str, Any] | None, now: float) -> dict[str, Any]:
        """The data of a getAccessToken or refreshToken call."""
        if body is None:
            raise _refused("the body must be a JSON object")
        try:
            stamp = required_int(body, "timestamp")
        except Refusal as refusal:
            raise _refused(refusal.message) from None
        if abs(stamp / 1000.0 - now) > TIMESTAMP_SKEW:
            raise _refused(
                f"timestamp is more than {TIMESTAMP_SKEW:g} s away from the server clock"
            )
        scope = body.get("scope")
        if name == "getAccessToken":
            identity = self._identity(body, scope)
            grant = self._grants.get(identity)
            if grant is None or grant.expires_at <= now:
                grant = self._issue(identity, now)
        else:
            grant = self._issue(self._refreshed(body, scope), now)
        return {
            "accessToken": grant.access_token,
            "expireIn": max(1, round(grant.expires_at - now)),
            "refreshToken": grant.refresh_token,
        }

    def _refreshed(self, body: dict[str, Any], scope: Any) -> tuple[str, ...]:
        presented = body.get("refreshToken")
        old = self._refresh.get(presented) if type(presented) is str else None
        if old is None:
            raise _refused("refreshToken is unknown or used")
        if scope is not None and scope != old.identity[0]:
            raise _refused("scope does not match the refreshToken")
        for key in ("eid", "appId"):
            if body.get(key) is not None and body[key] not in old.identity[1:]:
                raise _refused(f"{key} does not match the token")
        return old.identity

    def _identity(self, body: dict[str, Any], scope: Any) -> tuple[str, ...]:
        if scope == "resGroupSecret":
            keys: tuple[str, ...] = ("eid",)
        elif scope == "app":
            keys = ("appId",)
        elif scope == "team":
            keys = ("eid", "appId")
        else:
            raise _refused('scope must be "resGroupSecret", "app" or "team"')
        values = []
        for key in (*keys, "secret"):
            value = body.get(key)
            if type(value) is not str or not value:
                raise _refused(f"{key} is required")
            values.append(value)
        *ids, secret = values
        known = self.credentials
        if known is not None and not any(known.get(i) == secret for i in ids):
            raise _refused("the credentials were refused")
        return (scope, *ids)

    def _issue(self, identity: tuple[str, ...], now: float) -> _Grant:
        self._tokens = {t: g for t, g in self._tokens.items() if g.expires_at > now}
        previous = self._grants.get(identity)
        if previous is not None:
            self._refresh.pop(previous.refresh_token, None)
        bits = self._random.getrandbits
        grant = _Grant(identity, f"{bits(192):048x}", f"{bits(192):048x}", now + self.ttl)
        self._tokens[grant.access_token] = grant
        self._refresh[grant.refresh_token] = grant
        self._grants[identity] = grant
        return grant
