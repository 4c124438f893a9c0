"""``MeetingClient``: rate limit -> token -> send -> envelope -> retry, and one method per endpoint.

Every endpoint method is build -> ``send`` -> decoded result. ``send`` owns the attempt loop:
the token is added to each attempt (so a resend after renewal carries the new one), a refused
token is renewed once for everyone who saw it refused and the call sent again; a token that this
call's own renewal produced and that is refused on its first use ends in ``AuthError``.
``RetryPolicy`` decides what else is tried again.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection, Iterable
from types import TracebackType
from typing import Any, TypeVar

from ._convert import to_ms
from ._http import Timeout
from ._observe import Observer
from ._send import Attempt, Sender
from ._update import modify_from_detail
from .auth import DEFAULT_BASE_URL, Credentials, TokenProvider, check_base_url
from .bulk import Outcome, Progress, run_bounded
from .details import (
    AttendDetail,
    GetAttendDetail,
    GetMeeting,
    MeetingDetail,
    PageRecentList,
    QueryByRange,
    QueryByUser,
    UserMeeting,
)
from .endpoints import (
    BATCH_CANCEL,
    BATCH_MODIFY,
    BY_MODEL,
    CANCEL,
    CREATE,
    LATER,
    MODIFY,
    QUERY_BY_DAY,
    REPEAT_MEETING,
    Endpoint,
    Request,
    endpoint_of,
)
from .errors import (
    DEFAULT_TOKEN_ERROR_CODES,
    TransportError,
    ValidationError,
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
from .paging import iter_items, iter_pages
from .retry import RetryPolicy
from .rooms import (
    BookInfo,
    Booking,
    BookingChanges,
    FreeRooms,
    GetActors,
    HasNewBookings,
    Room,
    RoomActor,
)
from .tokens.source import TokenSource
from .tokens.store import TokenStore
from .transports.base import Transport

__all__ = ["Attempt", "MeetingClient"]

T = TypeVar("T")

_LATER: dict[str, Endpoint[Any]] = {row.name: row for row in LATER}


class MeetingClient:
    """Async client for the Yunzhijia meeting API.

    Use it as ``async with MeetingClient(credentials=...) as client:``, or call ``aclose()``,
    which closes the client's transport whether it was given or made (as httpx does).
    Exactly one of ``credentials`` / ``token_provider`` (any ``TokenSource``) is given;
    ``token_store`` is where the ``TokenProvider`` made from ``credentials`` keeps its token
    (share one to share the token). ``calls_per_minute`` caps calls per tenant and interface in
    any 60-second window (``None``: no client-side limit); ``rate_limiter`` (any ``Limiter``)
    replaces that window. ``max_in_flight`` caps requests on the wire at once. ``timeout`` is
    the default per attempt. ``on_attempt`` is called after every attempt with an ``Attempt``;
    ``observer`` receives the tracing events of ``_observe.Observer``. ``telemetry``: OpenTelemetry
    spans and metrics (extra ``otel``, see ``yzj_meeting.otel``): ``None`` switches them on
    when the application has configured a global tracer or meter provider, ``True`` always,
    ``False`` never; a ``yzj_meeting.otel.Telemetry`` uses its own providers. ``clock``,
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
        telemetry: bool | Observer | None = None,
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
        self._owns_limiter = rate_limiter is None
        if rate_limiter is None and calls_per_minute is not None:
            rate_limiter = RateLimiter(calls_per_minute, clock=clock, sleep=sleep)
        self.max_in_flight = max_in_flight
        observer = self._observer = _observer(observer, telemetry)
        if self._owns_tokens and isinstance(token_provider, TokenProvider):
            token_provider.on_request = getattr(observer, "token_request", None)
        self._sender = Sender(
            base_url=self._base_url,
            transport=transport,
            tokens=token_provider,
            tenant=(owner.eid or owner.app_id or "") if isinstance(owner, Credentials) else "",
            token_error_codes=frozenset(token_error_codes),
            retry=retry,
            limiter=rate_limiter,
            max_in_flight=max_in_flight,
            timeout=timeout,
            on_attempt=on_attempt,
            observer=observer,
            clock=clock,
            sleep=sleep,
            random=random,
        )
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
        return await self._send(endpoint_of(model).build(model), timeout)

    # ``_call`` and ``_send`` are plain functions returning the sender's coroutine: called from
    # the async methods, their errors still surface when the method is awaited, and a call
    # costs two coroutine frames less.

    def _call(self, row: Endpoint[T], model: Any, timeout: Timeout | None) -> Awaitable[T]:
        if type(model) is not row.model:
            raise ValidationError(
                "meeting", f"expected a {row.model.__name__}, got {type(model).__name__}"
            )
        return self._send(row.build(model), timeout)

    def _send(self, request: Request[T], timeout: Timeout | None) -> Awaitable[T]:
        if self._closed:
            raise TransportError("client is closed", endpoint=request.endpoint)
        return self._sender.send(request, timeout)

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

    # --- the endpoints of the later public docs (read only: resent safely) ---

    async def get_meeting(
        self, query: GetMeeting, *, timeout: Timeout | None = None
    ) -> MeetingDetail:
        """``meeting/detail``: one meeting with organizers, participants and join status."""
        return await self._call(_LATER["detail"], query, timeout)

    async def query_by_range(
        self, query: QueryByRange, *, timeout: Timeout | None = None
    ) -> list[MeetingInfo]:
        """``meeting/queryByRange``: the meetings starting between ``start`` and ``end``."""
        return await self._call(_LATER["queryByRange"], query, timeout)

    async def page_recent_list(
        self, query: PageRecentList, *, timeout: Timeout | None = None
    ) -> list[Booking]:
        """``meeting/pageRecentList``: one page of room bookings (see ``iter_recent``)."""
        return await self._call(_LATER["pageRecentList"], query, timeout)

    async def query_by_user(
        self, query: QueryByUser, *, timeout: Timeout | None = None
    ) -> list[UserMeeting]:
        """``meeting/queryByUser``: one page of a user's meetings (see ``iter_by_user``)."""
        return await self._call(_LATER["queryByUser"], query, timeout)

    async def get_attend_detail(
        self, query: GetAttendDetail, *, timeout: Timeout | None = None
    ) -> AttendDetail:
        """``meeting/getAttendDetail``: the attendance records of one meeting."""
        return await self._call(_LATER["getAttendDetail"], query, timeout)

    async def has_new_bookings(
        self, query: HasNewBookings, *, timeout: Timeout | None = None
    ) -> bool:
        """``roomBook/third/hasNew``: whether bookings changed after ``last_time``."""
        return await self._call(_LATER["hasNew"], query, timeout)

    async def book_info(self, query: BookInfo, *, timeout: Timeout | None = None) -> BookingChanges:
        """``roomBook/third/bookInfo``: one page of added and deleted bookings."""
        return await self._call(_LATER["bookInfo"], query, timeout)

    async def free_rooms(self, query: FreeRooms, *, timeout: Timeout | None = None) -> list[Room]:
        """``roomBook/third/freeRooms``: one page of rooms free in the window."""
        return await self._call(_LATER["freeRooms"], query, timeout)

    async def get_actors(
        self, query: GetActors, *, timeout: Timeout | None = None
    ) -> list[RoomActor]:
        """``roomBook/third/getActors``: the attendees of one room booking."""
        return await self._call(_LATER["getActors"], query, timeout)

    async def update_meeting(
        self,
        id: str,
        *,
        batch: bool = False,
        timeout: Timeout | None = None,
        **changes: Any,
    ) -> None:
        """Change only the named fields of meeting ``id``; every other field keeps its value.

        Reads the meeting (``get_meeting``), applies ``changes`` (keyword names of
        ``ModifyMeeting``'s fields, e.g. ``title=``, ``actors=``) and sends the full replace
        ``modify_meeting``; a new ``actors`` list goes out with ``add_actors``/``del_actors``
        from ``diff_actors``. ``batch=True``: the occurrence and every later one of its series,
        through ``batch_modify``. Not atomic: a change made by someone else between the read
        and the write is overwritten.
        """
        detail = await self.get_meeting(GetMeeting(id), timeout=timeout)
        model = modify_from_detail(detail, changes, batch=batch)
        await self.call(model, timeout=timeout)

    # --- every page of a paged endpoint (each page through rate limit, token and retry) ---

    def iter_recent(
        self, query: PageRecentList | None = None, *, max_pages: int | None = None
    ) -> AsyncIterator[Booking]:
        """Every ``Booking`` of ``pageRecentList`` from ``query``'s page on (default: all)."""
        return iter_items(self.page_recent_list, query or PageRecentList(), max_pages=max_pages)

    def iter_by_user(
        self, query: QueryByUser, *, max_pages: int | None = None
    ) -> AsyncIterator[UserMeeting]:
        """Every ``UserMeeting`` of ``queryByUser`` from ``query``'s page on."""
        return iter_items(self.query_by_user, query, max_pages=max_pages)

    def iter_book_info(
        self, query: BookInfo, *, max_pages: int | None = None
    ) -> AsyncIterator[BookingChanges]:
        """Every page of ``bookInfo`` as one ``BookingChanges`` each (pages, not items: a page
        holds two lists, ``add`` and ``delete``); stops on a page with fewer than
        ``page_size`` bookings in both together."""
        return iter_pages(self.book_info, query, max_pages=max_pages)

    def iter_free_rooms(
        self, query: FreeRooms, *, max_pages: int | None = None
    ) -> AsyncIterator[Room]:
        """Every free ``Room`` of ``freeRooms`` from ``query``'s page on."""
        return iter_items(self.free_rooms, query, max_pages=max_pages)

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

    # --- sending ---

    async def send(self, request: Request[T], *, timeout: Timeout | None = None) -> T:
        """Send a built request with rate limit, token, retries; returns its decoded answer."""
        return await self._send(request, timeout)

    @property
    def _in_flight(self) -> asyncio.Semaphore:
        return self._sender.in_flight

    @property
    def _limiter(self) -> Limiter | None:
        return self._sender.limiter

    @_limiter.setter
    def _limiter(self, limiter: Limiter | None) -> None:
        self._sender.limiter = limiter

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


def _observer(observer: Observer | None, telemetry: bool | Observer | None) -> Observer | None:
    """The observer a client reports to: ``observer``, or OpenTelemetry's per ``telemetry``."""
    if telemetry is None:
        # Nothing is imported unless the application already loaded OpenTelemetry's API.
        if observer is not None or "opentelemetry.trace" not in sys.modules:
            return observer
        from .otel import default_telemetry, provider_configured

        return default_telemetry() if provider_configured() else None
    if telemetry is False:
        return observer
    if observer is not None:
        raise ValidationError("telemetry", "give observer= or telemetry=, not both")
    if telemetry is not True:
        if not callable(getattr(telemetry, "call_started", None)):
            raise ValidationError("telemetry", "must be None, True, False or a Telemetry")
        return telemetry
    try:
        from .otel import default_telemetry
    except ImportError:
        raise ValidationError(
            "telemetry", "needs the otel extra: pip install 'yzj-meeting[otel]'"
        ) from None
    return default_telemetry()


def error_may_have_acted(error: BaseException) -> bool:
    """Whether the server may have carried out the request that ended in ``error``
    (``YzjError.may_have_acted``; anything else, cancellation included, is taken as "it may
    have": the safe answer for a write)."""
    return may_have_acted(error)
