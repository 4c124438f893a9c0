"""``MeetingClient``: rate limit -> token -> send -> envelope -> retry, and one method per endpoint.

Every endpoint method is build -> ``send`` -> decoded result. ``send`` owns the attempt loop:
the token is added to each attempt (so a resend after renewal carries the new one), a refused
token is renewed once for everyone who saw it refused and the call sent again; a token that this
call's own renewal produced and that is refused on its first use ends in ``AuthError``.
``RetryPolicy`` decides what else is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Collection, Iterable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import attrs

from ._convert import to_ms
from ._envelope import TokenRefused, decode_envelope
from ._http import HttpRequest, HttpResponse, Timeout
from ._observe import CallEnd, Observer
from .auth import DEFAULT_BASE_URL, JSON_HEADERS, Credentials, TokenProvider, check_base_url
from .bulk import Outcome, Progress, run_bounded
from .endpoints import (
    BATCH_CANCEL,
    BATCH_MODIFY,
    BY_MODEL,
    CANCEL,
    CREATE,
    MODIFY,
    QUERY_BY_DAY,
    REPEAT_MEETING,
    Endpoint,
    Request,
    endpoint_of,
)
from .errors import (
    DEFAULT_TOKEN_ERROR_CODES,
    AuthError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    TransportError,
    ValidationError,
    YzjError,
    may_have_acted,
)
from .limits import Limiter, RateLimiter
from .models import (
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    MeetingInfo,
    MeetingStatus,
    ModifyMeeting,
    QueryByDay,
    RepeatMeeting,
    RepeatSeries,
)
from .retry import RetryPolicy
from .tokens.source import TokenSource
from .tokens.store import TokenStore
from .transports.base import Transport

__all__ = ["Attempt", "MeetingClient"]

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


class MeetingClient:
    """Async client for the Yunzhijia meeting API.

    Use it as ``async with MeetingClient(credentials=...) as client:``, or call ``aclose()``,
    which closes the client's transport whether it was given or made (as httpx does).
    Exactly one of ``credentials`` / ``token_provider`` is given. ``calls_per_minute`` caps calls
    per interface in any 60-second window (``None``: no client-side limit) and ``max_in_flight``
    caps requests on the wire at once. ``timeout`` is the default per attempt. ``on_attempt`` is
    called after every attempt with an ``Attempt`` (for metrics or tracing). ``clock``,
    ``sleep`` and ``random`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        token_provider: TokenSource | None = None,
        token_store: TokenStore | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: Transport | None = None,
        token_error_codes: Collection[int] = DEFAULT_TOKEN_ERROR_CODES,
        retry: RetryPolicy = RetryPolicy(),
        calls_per_minute: int | None = 1500,
        rate_limiter: Limiter | None = None,
        max_in_flight: int = 64,
        timeout: Timeout | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        _check_options(credentials, token_provider, token_store, retry, calls_per_minute)
        if not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValidationError("max_in_flight", "must be an int >= 1")
        self._base_url = check_base_url(base_url)
        if transport is None:
            from .transports.aiohttp import AiohttpTransport

            transport = AiohttpTransport(timeout=timeout or Timeout())
        self._transport: Transport = transport
        self._owns_tokens = token_provider is None
        if token_provider is None:
            assert credentials is not None
            token_provider = TokenProvider(
                credentials,
                base_url=self._base_url,
                transport=transport,
                timeout=timeout,
                clock=clock,
                store=token_store,
            )
        self._tokens: TokenSource = token_provider
        owner = getattr(token_provider, "credentials", None)
        self._tenant = (owner.eid or owner.app_id or "") if isinstance(owner, Credentials) else ""
        self._token_error_codes = frozenset(token_error_codes)
        self._retry = retry
        self._owns_limiter = rate_limiter is None
        if rate_limiter is None and calls_per_minute is not None:
            rate_limiter = RateLimiter(calls_per_minute, clock=clock, sleep=sleep)
        self._limiter: Limiter | None = rate_limiter
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self.max_in_flight = max_in_flight
        self._timeout = timeout
        self._on_attempt = on_attempt
        self._observer = observer
        self._reporting = on_attempt is not None or observer is not None
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._url_token: str | None = None
        self._urls: dict[str, str] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"MeetingClient(base_url={self._base_url!r})"

    @property
    def token_provider(self) -> TokenSource:
        """The provider of this client's access tokens."""
        return self._tokens

    @property
    def transport(self) -> Transport:
        """The transport this client sends through."""
        return self._transport

    # --- the endpoints: one typed method per row of the endpoint table ---

    async def call(self, model: Any, *, timeout: Timeout | None = None) -> Any:
        """Send any request model; returns what its endpoint's method returns."""
        return await self.send(endpoint_of(model).build(model), timeout=timeout)

    async def _call(self, row: Endpoint[T], model: Any, timeout: Timeout | None) -> T:
        if type(model) is not row.model:
            raise ValidationError(
                "meeting", f"expected a {row.model.__name__}, got {type(model).__name__}"
            )
        return await self.send(row.build(model), timeout=timeout)

    async def create_meeting(
        self, meeting: CreateMeeting, *, timeout: Timeout | None = None
    ) -> str:
        """``meeting/create``: one new meeting; returns its id.

        Never resent once it may have reached the server: an unclear failure raises
        ``OutcomeUnknownError`` (see ``find_existing``).
        """
        return await self._call(CREATE, meeting, timeout)

    async def modify_meeting(
        self, meeting: ModifyMeeting, *, timeout: Timeout | None = None
    ) -> None:
        """``meeting/modify``: replaces the whole meeting; fields left ``None`` are cleared."""
        await self._call(MODIFY, meeting, timeout)

    async def cancel_meeting(
        self, meeting: CancelMeeting, *, timeout: Timeout | None = None
    ) -> None:
        """``meeting/cancel``: cancels one meeting (only its creator may)."""
        await self._call(CANCEL, meeting, timeout)

    async def repeat_meeting(
        self, meeting: RepeatMeeting, *, timeout: Timeout | None = None
    ) -> RepeatSeries:
        """``meeting/repeatMeeting``: a new series; never resent once it may have arrived."""
        return await self._call(REPEAT_MEETING, meeting, timeout)

    async def batch_modify(self, meeting: BatchModify, *, timeout: Timeout | None = None) -> None:
        """``meeting/batchModify``: replaces an occurrence and every later one of its series."""
        await self._call(BATCH_MODIFY, meeting, timeout)

    async def batch_cancel(self, meeting: BatchCancel, *, timeout: Timeout | None = None) -> None:
        """``meeting/batchCancel``: cancels an occurrence and every later one (parent: all)."""
        await self._call(BATCH_CANCEL, meeting, timeout)

    async def query_by_day(
        self, query: QueryByDay, *, timeout: Timeout | None = None
    ) -> list[MeetingInfo]:
        """``meeting/queryByDay``: the meetings starting on that day, cancelled ones included."""
        return await self._call(QUERY_BY_DAY, query, timeout)

    async def find_existing(
        self,
        meeting: CreateMeeting | RepeatMeeting,
        *,
        exclude: Iterable[str] = (),
        timeout: Timeout | None = None,
    ) -> MeetingInfo | None:
        """Look on the meeting's day for a live meeting matching ``meeting``; ``None`` if none.

        Use it after ``OutcomeUnknownError`` before sending a create again: a match (same
        creator, title, start and end, not cancelled, id not in ``exclude``) means the lost
        attempt did create it. For a series the match is its parent, the first occurrence.
        """
        skip = set(exclude)
        start, end = to_ms(meeting.start_date), to_ms(meeting.end_date)
        for info in await self.query_by_day(QueryByDay(meeting.start_date), timeout=timeout):
            if (
                info.id not in skip
                and info.title == meeting.title
                and to_ms(info.start_date) == start
                and to_ms(info.end_date) == end
                and info.openid in (None, meeting.openid)
                and info.meeting_status is not MeetingStatus.DELETED
            ):
                return info
        return None

    # --- many at once ---

    async def run_many(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_outcome: Callable[[Outcome[Any, Any]], None] | None = None,
        collect: bool = True,
    ) -> list[Outcome[Any, Any]]:
        """Send many items with bounded concurrency; one ``Outcome`` per item, in input order.

        Items are request models (``CreateMeeting``, ...), built ``Request`` objects, or
        zero-argument async callables (run as they are, e.g. to journal around a call). Each
        goes through this client's rate limit and retry policy; a failure is recorded in its
        outcome and the batch goes on. The input is consumed lazily, so a generator of 100,000
        items holds ``concurrency`` (default ``max_in_flight``) tasks, not 100,000. In the list
        returned, successful outcomes drop their item (failed ones keep it, to be retried);
        ``on_outcome`` sees every outcome with its item as it lands. With ``collect=False``
        nothing is kept and the list returned is empty.
        """
        return await run_bounded(
            items,
            self._run_item,
            concurrency=concurrency or self.max_in_flight,
            on_progress=on_progress,
            on_outcome=on_outcome,
            collect=collect,
        )

    async def _run_item(self, item: Any) -> Any:
        if isinstance(item, Request):
            return await self.send(item)
        row = BY_MODEL.get(type(item))
        if row is not None:
            return await self.send(row.build(item))
        if callable(item):
            return await item()
        raise ValidationError("item", f"cannot send a {type(item).__name__}")

    # --- sending: retry loop -> authenticated attempt -> one attempt ---

    def _url(self, path: str, token: str) -> str:
        if token is not self._url_token:
            self._urls.clear()
            self._url_token = token
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = f"{self._base_url}{path}?accessToken={quote(token, safe='')}"
        return url

    async def send(self, request: Request[T], *, timeout: Timeout | None = None) -> T:
        """Send a built request with rate limit, token, retries; returns its decoded answer."""
        if self._closed:
            raise TransportError("client is closed", endpoint=request.endpoint)
        state = _State(request, timeout or self._timeout)
        if self._observer is None:
            return await self._retrying(state)  # type: ignore[no-any-return]
        return await self._observed(state)  # type: ignore[no-any-return]

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
                return await self._authenticated(state)
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

    async def _authenticated(self, state: _State) -> Any:
        """One attempt; a refused token is renewed (one renewal shared by everyone who saw it
        refused) and the request resent. A token this call's own renewal produced and that is
        refused too ends in ``AuthError``."""
        fresh: str | None = None
        renewals = 0
        while True:
            try:
                return await self._attempt(state)
            except TokenRefused as exc:
                refused = state.token
                assert refused is not None
                if refused == fresh or renewals >= _MAX_RENEWALS:
                    raise AuthError(
                        f"a freshly issued token was refused too: {exc.message}",
                        error_code=exc.error_code,
                        endpoint=exc.endpoint,
                        status=exc.status,
                        payload=exc.payload,
                    ) from None
                renewals += 1
                log.info(
                    "%s: access token refused; renewing",
                    exc.endpoint,
                    extra=self._extra(state, exc),
                )
                fresh = await self._token(refused)

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
        try:
            async with self._in_flight:
                response = await self._exchange(state)
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

    async def _exchange(self, state: _State) -> HttpResponse:
        # The slot is taken once a permit is held, so that a wait for a permit cannot push
        # sends closer together than the window the server counts.
        request = state.request
        limiter = self._limiter
        slot: object = None
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
            return await self._transport.send(http)
        except BaseException as exc:
            # A call that never left gives its slot back (cancelled, or the token failed).
            if limiter is not None and (not state.sent or not may_have_acted(exc)):
                limiter.give_back(slot)
            raise

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
        if isinstance(exc, RateLimitError) and self._limiter is not None:
            pause = exc.retry_after if exc.retry_after is not None else self._retry.base_delay
            self._limiter.pause(self._tenant, state.request.endpoint, pause)
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

    # --- lifetime ---

    async def aclose(self) -> None:
        """Close the transport (given or made) and the token provider this client made."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._owns_tokens:
                await self._tokens.aclose()
            if self._owns_limiter and self._limiter is not None:
                await self._limiter.aclose()
        finally:
            await self._transport.aclose()

    async def __aenter__(self) -> MeetingClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_options(
    credentials: Credentials | None,
    token_provider: TokenSource | None,
    token_store: TokenStore | None,
    retry: RetryPolicy,
    calls_per_minute: int | None,
) -> None:
    if (credentials is None) == (token_provider is None):
        raise ValidationError("credentials", "give exactly one of credentials, token_provider")
    if token_provider is not None and token_store is not None:
        raise ValidationError("token_store", "give it to the TokenProvider, not with one")
    if not isinstance(retry, RetryPolicy):
        raise ValidationError("retry", "must be a RetryPolicy")
    if calls_per_minute is not None and (
        not isinstance(calls_per_minute, int) or calls_per_minute < 1
    ):
        raise ValidationError("calls_per_minute", "must be an int >= 1, or None")


def _error_name(error: BaseException | None) -> str | None:
    if error is None:
        return None
    # The private token-refused signal is reported under its public name.
    return "AuthError" if isinstance(error, TokenRefused) else type(error).__name__


def error_may_have_acted(error: BaseException) -> bool:
    """Whether the server may have carried out the request that ended in ``error``
    (``YzjError.may_have_acted``; anything else, cancellation included, is taken as "it may
    have": the safe answer for a write)."""
    return may_have_acted(error)


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
