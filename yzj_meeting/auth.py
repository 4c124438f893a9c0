"""Credentials and the token provider: cache, refresh margin, single flight, renewal.

One ``TokenProvider`` holds at most one access token. Many concurrent callers with no valid
token share one token request; callers that saw the same token refused share one renewal.
Renewal goes through ``refreshToken`` while a refresh token is held, and falls back to
``getAccessToken`` when that is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

import attrs

from ._convert import encode_json
from ._envelope import decode_envelope
from ._http import HttpRequest, Timeout
from .errors import ApiError, AuthError, ProtocolError, RateLimitError, ValidationError, YzjError
from .tokens.store import MemoryTokenStore, StoredToken, TokenStore, token_identity
from .transports.base import Transport

__all__ = ["DEFAULT_BASE_URL", "Credentials", "TokenProvider", "check_base_url"]

log = logging.getLogger("yzj_meeting")

DEFAULT_BASE_URL = "https://www.yunzhijia.com"
GET_TOKEN_PATH = "/gateway/oauth2/token/getAccessToken"
REFRESH_TOKEN_PATH = "/gateway/oauth2/token/refreshToken"
JSON_HEADERS = {"Content-Type": "application/json"}

Scope = Literal["resGroupSecret", "app", "team"]


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash; only http(s) URLs are accepted."""
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValidationError("base_url", "must start with http:// or https://")
    if "?" in base_url or "#" in base_url:
        raise ValidationError("base_url", "must not carry a query or fragment")
    return base_url.rstrip("/")


def _optional_id(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(attribute.name, "must be a non-empty string")


def _secret(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(attribute.name, "must be a non-empty string")


@attrs.frozen(kw_only=True, repr=False)
class Credentials:
    """What the token endpoint needs. Its ``repr`` never shows the secret.

    Scope ``resGroupSecret`` (the meeting endpoints' scope) takes ``eid`` and the resource
    authorisation ``secret``; ``app`` takes ``app_id``; ``team`` takes ``eid`` and ``app_id``.
    """

    eid: str | None = attrs.field(default=None, validator=_optional_id)
    secret: str = attrs.field(validator=_secret)
    app_id: str | None = attrs.field(default=None, validator=_optional_id)
    scope: Scope = "resGroupSecret"

    def __attrs_post_init__(self) -> None:
        if self.scope not in ("resGroupSecret", "app", "team"):
            raise ValidationError("scope", "must be 'resGroupSecret', 'app' or 'team'")
        if self.scope in ("resGroupSecret", "team") and self.eid is None:
            raise ValidationError("eid", f"is required for scope {self.scope!r}")
        if self.scope in ("app", "team") and self.app_id is None:
            raise ValidationError("app_id", f"is required for scope {self.scope!r}")

    def __repr__(self) -> str:
        return (
            f"Credentials(eid={self.eid!r}, app_id={self.app_id!r}, scope={self.scope!r}, "
            "secret='***')"
        )

    __str__ = __repr__

    def identity(self) -> dict[str, str]:
        """The fields naming who asks: ``eid`` and/or ``appId``, and the scope."""
        out: dict[str, str] = {}
        if self.eid is not None:
            out["eid"] = self.eid
        if self.app_id is not None:
            out["appId"] = self.app_id
        out["scope"] = self.scope
        return out


@attrs.frozen
class _Token:
    access: str = attrs.field(repr=False)
    refresh: str | None = attrs.field(repr=False)
    refresh_at: float


class TokenProvider:
    """Fetches, caches and refreshes access tokens for one ``Credentials``.

    ``await provider.token()`` answers the cached token while it is more than
    ``refresh_margin`` seconds from expiry (never less than half its lifetime), else gets a new
    one. The token lives in a ``TokenStore`` (``store``; a ``MemoryTokenStore`` by default;
    share a Redis store to share one token across processes), fronted by an in-process cache
    so that ``peek()`` never awaits. ``clock`` (monotonic seconds) and ``wall_clock`` (epoch
    seconds, for the request ``timestamp`` and stored expiries) are injectable. Without a
    ``transport`` the provider opens an ``AiohttpTransport`` of its own and closes it in
    ``aclose``.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: Transport | None = None,
        store: TokenStore | None = None,
        refresh_margin: float = 300.0,
        timeout: Timeout | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise ValidationError("credentials", "must be a Credentials")
        if not isinstance(refresh_margin, int | float) or refresh_margin < 0:
            raise ValidationError("refresh_margin", "must be a number >= 0")
        self.credentials = credentials
        self._base_url = check_base_url(base_url)
        self._transport = transport
        self._owns_transport = transport is None
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        self._identity = token_identity(
            self._base_url, scope=credentials.scope, eid=credentials.eid, app_id=credentials.app_id
        )
        self._margin = refresh_margin
        self._timeout = timeout
        self._clock = clock
        self._wall_clock = wall_clock
        self._current: _Token | None = None
        self._flight: asyncio.Future[_Token] | None = None
        self.token_requests = 0
        """How many token endpoint calls this provider made (for tests and metrics)."""
        self.on_request: Callable[[str, str], None] | None = None
        """Called with (tenant, endpoint) before each token endpoint call (telemetry)."""

    def __repr__(self) -> str:
        return f"TokenProvider({self.credentials!r}, base_url={self._base_url!r})"

    @property
    def store(self) -> TokenStore:
        """Where this provider keeps its token."""
        return self._store

    async def token(self) -> str:
        """A valid access token, fetched when none is held or it is about to expire."""
        return self.peek() or (await self._shared(None)).access

    def peek(self) -> str | None:
        """The token ``token()`` would answer without fetching, or ``None`` (no await needed)."""
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.access
        return None

    async def renew(self, refused: str) -> str:
        """A new token after the server refused ``refused``: one renewal for all its callers."""
        current = self._current
        if current is not None and current.access != refused:
            return current.access
        if current is not None:
            # Keep the refresh token for the renewal, forget the refused access token.
            self._current = attrs.evolve(current, refresh_at=float("-inf"))
        return (await self._shared(refused)).access

    def _shared(self, refused: str | None) -> asyncio.Future[_Token]:
        flight = self._flight
        if flight is None:
            flight = self._flight = asyncio.ensure_future(self._obtain(refused))
            flight.add_done_callback(self._landed)
        return asyncio.shield(flight)

    def _landed(self, flight: asyncio.Future[_Token]) -> None:
        self._flight = None
        if not flight.cancelled() and flight.exception() is None:
            self._current = flight.result()

    async def _obtain(self, refused: str | None) -> _Token:
        """The stored token when someone else renewed it, else a replacement through the store."""
        loaded = await self._store.load(self._identity)
        held = self._current.access if self._current is not None else None
        if loaded is not None and loaded.access not in (refused, held):
            remaining = loaded.expires_at - self._wall_clock()
            if remaining > self._margin:
                return _Token(
                    loaded.access, loaded.refresh, self._clock() + remaining - self._margin
                )
        stored = await self._store.replace(self._identity, loaded, self._fetch)
        remaining = stored.expires_at - self._wall_clock()
        lifetime = max(remaining - self._margin, remaining / 2)
        return _Token(stored.access, stored.refresh, self._clock() + lifetime)

    async def _fetch(self, previous: StoredToken | None) -> StoredToken:
        if previous is not None and previous.refresh is not None:
            try:
                return await self._call(
                    REFRESH_TOKEN_PATH, {"refreshToken": previous.refresh}, "refreshToken"
                )
            except RateLimitError:
                raise
            except YzjError as exc:
                log.info(
                    "refreshToken failed (%s); asking getAccessToken",
                    type(exc).__name__,
                    extra={
                        "endpoint": "refreshToken",
                        "attempt": 1,
                        "status": getattr(exc, "status", None),
                        "error_code": getattr(exc, "error_code", None),
                        "elapsed_ms": None,
                        "tenant": self._tenant,
                    },
                )
        return await self._call(
            GET_TOKEN_PATH, {"secret": self.credentials.secret}, "getAccessToken"
        )

    @property
    def _tenant(self) -> str:
        return self.credentials.eid or self.credentials.app_id or ""

    async def _call(self, path: str, fields: dict[str, Any], endpoint: str) -> StoredToken:
        body = {
            **self.credentials.identity(),
            **fields,
            "timestamp": int(self._wall_clock() * 1000),
        }
        request = HttpRequest(
            "POST", self._base_url + path, JSON_HEADERS, encode_json(body), endpoint, self._timeout
        )
        transport = self._transport
        if transport is None:
            from .transports.aiohttp import AiohttpTransport

            transport = self._transport = AiohttpTransport()
        self.token_requests += 1
        if self.on_request is not None:
            self.on_request(self._tenant, endpoint)
        response = await transport.send(request)
        try:
            data = decode_envelope(
                response.status,
                response.headers,
                response.body,
                endpoint=endpoint,
                token_error_codes=(),
            )
        except RateLimitError:
            raise
        except ApiError as exc:
            raise AuthError(
                f"credentials refused: {exc.message}",
                error_code=exc.error_code,
                endpoint=endpoint,
                status=exc.status,
                payload=exc.payload,
            ) from None
        return self._parse(data, endpoint)

    def _parse(self, data: Any, endpoint: str) -> StoredToken:
        if type(data) is dict:
            access = data.get("accessToken")
            expire_in = data.get("expireIn")
            refresh = data.get("refreshToken")
            if type(expire_in) is str and expire_in.isdigit():
                expire_in = int(expire_in)
            if (
                type(access) is str
                and access
                and type(expire_in) is int
                and expire_in > 0
                and (refresh is None or type(refresh) is str)
            ):
                return StoredToken(access, refresh or None, self._wall_clock() + expire_in)
        raise ProtocolError("token answer lacks accessToken/expireIn", endpoint=endpoint)

    async def aclose(self) -> None:
        """Close the transport this provider opened (a given one is left open)."""
        transport = self._transport
        if transport is not None and self._owns_transport:
            self._transport = None
            await transport.aclose()

    async def __aenter__(self) -> TokenProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
