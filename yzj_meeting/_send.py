"""Sending one request: retry loop -> authenticated attempt -> one attempt.

``Sender.send`` owns the layers (as httpx's ``_client.py`` does): the retry loop asks the
``RetryPolicy`` what to try again; the authenticated attempt renews a refused token once for
everyone who saw it refused and resends; one attempt takes a quota slot and an in-flight
permit, adds the token, sends through the transport, reads the envelope and decodes. Whether
the server may have acted is ``YzjError.may_have_acted`` and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import attrs

from ._envelope import TokenRefused, decode_envelope
from ._http import HttpRequest, Timeout
from ._observe import CallEnd, Observer
from .auth import JSON_HEADERS
from .endpoints import Request
from .errors import (
    AuthError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    TransportError,
    YzjError,
    may_have_acted,
)
from .limits import Limiter
from .retry import RetryPolicy
from .tokens.source import TokenSource
from .transports.base import Transport

__all__ = ["Attempt", "Sender"]

T = TypeVar("T")

log = logging.getLogger("yzj_meeting")

_MAX_RENEWALS = 4


@attrs.frozen
class Attempt:
    """What one attempt did, as handed to ``on_attempt`` (never the token or the body)."""

    endpoint: str
    attempt: int
    status: int | None
    error_code: int | None
    elapsed: float
    error: str | None


class Sender:
    """The sending machinery of one ``MeetingClient`` (private; the client is the face)."""

    def __init__(
        self,
        *,
        base_url: str,
        transport: Transport,
        tokens: TokenSource,
        tenant: str,
        token_error_codes: frozenset[int],
        retry: RetryPolicy,
        limiter: Limiter | None,
        max_in_flight: int,
        timeout: Timeout | None,
        on_attempt: Callable[[Attempt], None] | None,
        observer: Observer | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        random: Callable[[], float],
    ) -> None:
        self._base_url = base_url
        self._transport = transport
        self._tokens = tokens
        self._tenant = tenant
        self._token_error_codes = token_error_codes
        self._retry = retry
        self.limiter = limiter
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self._timeout = timeout
        self._on_attempt = on_attempt
        self._observer = observer
        self._reporting = on_attempt is not None or observer is not None
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._url_token: str | None = None
        self._urls: dict[str, str] = {}

    def _url(self, path: str, token: str) -> str:
        if token is not self._url_token:
            self._urls.clear()
            self._url_token = token
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = f"{self._base_url}{path}?accessToken={quote(token, safe='')}"
        return url

    def send(self, request: Request[T], timeout: Timeout | None = None) -> Awaitable[T]:
        """The coroutine sending ``request`` (a plain function: one frame less per call)."""
        state = _State(request, timeout or self._timeout)
        if self._observer is None:
            return self._retrying(state)
        return self._observed(state)

    async def _observed(self, state: _State) -> Any:
        observer = self._observer
        assert observer is not None
        endpoint = state.request.endpoint
        context = observer.call_started(endpoint, self._tenant)
        started = self._clock()
        error: BaseException | None = None
        try:
            return await self._retrying(state)
        except BaseException as exc:
            error = exc
            raise
        finally:
            code = getattr(error, "error_code", None)
            end = CallEnd(
                endpoint,
                self._tenant,
                state.attempt,
                _error_name(error) or "ok",
                code if type(code) is int else None,
                isinstance(error, OutcomeUnknownError),
                self._clock() - started,
            )
            observer.call_ended(context, end)

    async def _retrying(self, state: _State) -> Any:
        """Attempts until one succeeds or the retry policy gives up."""
        request = state.request
        started = self._clock()
        while True:
            state.attempt += 1
            try:
                try:
                    return await self._attempt(state)
                except TokenRefused as refusal:
                    # The authenticated layer, entered only off the hot path.
                    return await self._renewing(state, refusal)
            except (TransportError, ProtocolError, RateLimitError) as exc:
                error: YzjError = exc
            # Before the meeting request left, nothing can be duplicated: any call is safe.
            safe = request.idempotent or not state.sent
            delay = self._retry.next_delay(
                error,
                idempotent=safe,
                attempt=state.attempt,
                elapsed=self._clock() - started,
                rand=self._random(),
            )
            if delay is None:
                if not safe and error.may_have_acted:
                    raise OutcomeUnknownError(
                        f"the outcome is unknown ({error}); look for the meeting with "
                        "find_existing() before sending it again",
                        endpoint=request.endpoint,
                        request=request,
                        model=request.model,
                        day=request.day,
                    ) from error
                raise error
            log.warning(
                "%s: attempt %d failed (%s); retrying in %.2fs",
                request.endpoint,
                state.attempt,
                type(error).__name__,
                delay,
                extra=self._extra(state, error, delay=delay),
            )
            if self._observer is not None:
                self._observer.retry(request.endpoint, self._tenant, state.attempt, delay)
            await self._sleep(delay)

    async def _renewing(self, state: _State, refusal: TokenRefused) -> Any:
        """The authenticated attempt after its token was refused: the token is renewed (one
        renewal shared by everyone who saw it refused) and the request resent. A token this
        call's own renewal produced and that is refused too ends in ``AuthError``."""
        fresh: str | None = None
        renewals = 0
        while True:
            refused = state.token
            assert refused is not None
            if refused == fresh or renewals >= _MAX_RENEWALS:
                raise AuthError(
                    f"a freshly issued token was refused too: {refusal.message}",
                    error_code=refusal.error_code,
                    endpoint=refusal.endpoint,
                    status=refusal.status,
                    payload=refusal.payload,
                ) from None
            renewals += 1
            log.info(
                "%s: access token refused; renewing",
                refusal.endpoint,
                extra=self._extra(state, refusal),
            )
            fresh = await self._token(refused)
            try:
                return await self._attempt(state)
            except TokenRefused as again:
                refusal = again

    async def _token(self, refused: str | None = None) -> str:
        """A token from the source (``renew`` when ``refused`` is given), observed."""
        tokens = self._tokens
        if self._observer is None:
            return await (tokens.token() if refused is None else tokens.renew(refused))
        t0 = self._clock()
        kind = "fetch" if refused is None else "renew"
        try:
            token = await (tokens.token() if refused is None else tokens.renew(refused))
        except BaseException as exc:
            self._observer.token(self._tenant, kind, self._clock() - t0, type(exc).__name__)
            raise
        self._observer.token(self._tenant, kind, self._clock() - t0, None)
        return token

    async def _attempt(self, state: _State) -> Any:
        """One exchange: quota slot, in-flight permit, token, transport, envelope, decode."""
        request = state.request
        state.sent = False
        state.status = None
        state.t0 = self._clock()
        limiter = self.limiter
        slot: object = None
        in_flight = self.in_flight
        try:
            # ``acquire``/``release`` rather than ``async with``: two coroutines less per call.
            await in_flight.acquire()
            try:
                # The slot is taken once a permit is held, so that a wait for a permit cannot
                # push sends closer together than the window the server counts.
                if limiter is not None:
                    slot = await self._slot(limiter, request.endpoint)
                try:
                    token = state.token = self._tokens.peek() or await self._token()
                    http = HttpRequest(
                        "POST",
                        self._url(request.path, token),
                        JSON_HEADERS,
                        request.body,
                        request.endpoint,
                        state.timeout,
                    )
                    state.sent = True
                    response = await self._transport.send(http)
                except BaseException as exc:
                    # A call that never left gives its slot back (cancelled, token failed).
                    if limiter is not None and (not state.sent or not may_have_acted(exc)):
                        limiter.give_back(slot)
                    raise
            finally:
                in_flight.release()
            state.status = response.status
            data = decode_envelope(
                response.status,
                response.headers,
                response.body,
                endpoint=request.endpoint,
                token_error_codes=self._token_error_codes,
            )
            result = request.decode(data)
        except YzjError as exc:
            self._failed(state, exc)
            raise
        if self._reporting or log.isEnabledFor(logging.DEBUG):
            self._report(state, None)
        return result

    async def _slot(self, limiter: Limiter, interface: str) -> object:
        if self._observer is None:
            return await limiter.acquire(self._tenant, interface)
        t0 = self._clock()
        slot = await limiter.acquire(self._tenant, interface)
        waited = self._clock() - t0
        if waited > 0:
            self._observer.quota_wait(self._tenant, interface, waited)
        return slot

    def _failed(self, state: _State, exc: YzjError) -> None:
        if isinstance(exc, RateLimitError) and self.limiter is not None:
            pause = exc.retry_after if exc.retry_after is not None else self._retry.base_delay
            self.limiter.pause(self._tenant, state.request.endpoint, pause)
        self._report(state, exc)

    def _extra(
        self, state: _State, error: BaseException | None, *, delay: float | None = None
    ) -> dict[str, Any]:
        """The ``extra`` attributes of a log record about ``state`` (never the token)."""
        code = getattr(error, "error_code", None)
        return {
            "endpoint": state.request.endpoint,
            "attempt": state.attempt,
            "status": state.status if state.status is not None else getattr(error, "status", None),
            "error_code": code if error is not None else 0,
            "elapsed_ms": (self._clock() - state.t0) * 1000,
            "tenant": self._tenant,
            "retry_delay": delay,
        }

    def _report(self, state: _State, error: BaseException | None) -> None:
        elapsed = self._clock() - state.t0
        endpoint = state.request.endpoint
        status = state.status if state.status is not None else getattr(error, "status", None)
        code = getattr(error, "error_code", None) if error is not None else 0
        name = _error_name(error)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s attempt=%d status=%s errorCode=%s elapsed=%.1fms error=%s",
                endpoint,
                state.attempt,
                status,
                code,
                elapsed * 1000,
                name,
                extra=self._extra(state, error),
            )
        if self._on_attempt is not None:
            self._on_attempt(Attempt(endpoint, state.attempt, status, code, elapsed, name))
        if self._observer is not None:
            self._observer.attempt(
                endpoint, self._tenant, state.attempt, status, code, elapsed, name
            )


def _error_name(error: BaseException | None) -> str | None:
    if error is None:
        return None
    # The private token-refused signal is reported under its public name.
    return "AuthError" if isinstance(error, TokenRefused) else type(error).__name__


class _State:
    """One logical call in progress, shared by its layers."""

    __slots__ = ("attempt", "request", "sent", "status", "t0", "timeout", "token")

    def __init__(self, request: Request[Any], timeout: Timeout | None) -> None:
        self.request = request
        self.timeout = timeout
        self.attempt = 0
        self.sent = False
        self.status: int | None = None
        self.t0 = 0.0
        self.token: str | None = None
