"""Shared test helpers: a scripted transport, envelope builders, an injectable clock and sleep.

``ScriptedTransport`` implements the ``Transport`` protocol. It answers the two token endpoints
with fresh tokens (``<prefix>-1``, ``<prefix>-2``, ...) and the meeting endpoints from a queue
of scripted answers (an ``HttpResponse``, an exception to raise, or a callable), then from a
handler function, then with an empty success envelope. It records every request it saw.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from yzj_meeting._http import HttpRequest, HttpResponse
from yzj_meeting.models import (
    SHANGHAI,
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    ModifyMeeting,
    QueryByDay,
    Repeat,
    RepeatMeeting,
)

BASE_URL = "https://yzj.test"
GET_TOKEN_PATH = "/gateway/oauth2/token/getAccessToken"
REFRESH_TOKEN_PATH = "/gateway/oauth2/token/refreshToken"
MEETING_PATH = "/gateway/cloudwork/meeting/"

# Distinctive strings, so that a leak is found by a plain substring search.
SECRET = "SeCrEt-9f3Kq7Zp-NEVER-LOG"
TOKEN_PREFIX = "AcCeSsToKeN-7Hx2Lm"


def envelope(
    data: Any = None, *, success: bool = True, error_code: int = 0, error: str | None = None
) -> dict[str, Any]:
    """The documented answer envelope."""
    return {"success": success, "errorCode": error_code, "error": error, "data": data}


def json_response(
    obj: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """Any JSON value as an answer."""
    return HttpResponse(
        status,
        {"content-type": "application/json", **(headers or {})},
        json.dumps(obj, ensure_ascii=False).encode(),
    )


def ok(
    data: Any = None,
    *,
    error_code: int = 0,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A successful answer carrying ``data``."""
    return json_response(envelope(data, error_code=error_code), status=status, headers=headers)


def fail(
    error_code: int | None,
    message: str = "refused",
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A ``success: false`` answer."""
    body = {"success": False, "errorCode": error_code, "error": message, "data": None}
    return json_response(body, status=status, headers=headers)


def raw(
    body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """An answer with exactly these bytes."""
    return HttpResponse(status, dict(headers or {}), body)


def token_of(request: HttpRequest) -> str | None:
    """The ``accessToken`` query parameter of a request, if any."""
    values = parse_qs(urlsplit(request.url).query).get("accessToken")
    return values[0] if values else None


def path_of(request: HttpRequest) -> str:
    return urlsplit(request.url).path


def body_of(request: HttpRequest) -> Any:
    return json.loads(request.body)


Answer = HttpResponse | BaseException | Callable[[HttpRequest], Any]
Handler = Callable[[HttpRequest], Any]  # an HttpResponse, an exception, or an awaitable of one


async def _resolve(value: Any, request: HttpRequest) -> HttpResponse:
    if isinstance(value, BaseException):
        raise value
    if isinstance(value, type) and issubclass(value, BaseException):
        raise value()
    if callable(value) and not isinstance(value, HttpResponse):
        value = value(request)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, BaseException):
            raise value
    assert isinstance(value, HttpResponse), value
    return value


class ScriptedTransport:
    """A ``Transport`` that answers from a script and records what it was sent."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        answers: Iterable[Answer] = (),
        token_prefix: str = TOKEN_PREFIX,
        expire_in: int = 7200,
        refuse_credentials: bool = False,
        refuse_refresh: bool = False,
        token_answers: Iterable[Answer] = (),
        pause: bool = True,
    ) -> None:
        self.handler = handler
        self.answers: deque[Answer] = deque(answers)
        self.token_answers: deque[Answer] = deque(token_answers)
        self.token_prefix = token_prefix
        self.expire_in = expire_in
        self.refuse_credentials = refuse_credentials
        self.refuse_refresh = refuse_refresh
        self.pause = pause
        self.requests: list[HttpRequest] = []
        self.issued: list[str] = []
        self.closed = 0
        self.in_flight = 0
        self.peak = 0
        self.cancelled = 0
        self.on_send: Callable[[HttpRequest], None] | None = None

    # --- what was sent ---

    @property
    def meeting_requests(self) -> list[HttpRequest]:
        return [r for r in self.requests if path_of(r).startswith(MEETING_PATH)]

    @property
    def token_requests(self) -> list[HttpRequest]:
        return [r for r in self.requests if not path_of(r).startswith(MEETING_PATH)]

    def paths(self) -> list[str]:
        return [path_of(r) for r in self.requests]

    # --- the protocol ---

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        path = path_of(request)
        if path in (GET_TOKEN_PATH, REFRESH_TOKEN_PATH):
            if self.pause:
                await asyncio.sleep(0)
            return await self._token(request, path)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.on_send is not None:
                self.on_send(request)
            if self.pause:
                await asyncio.sleep(0)
            if self.answers:
                return await _resolve(self.answers.popleft(), request)
            if self.handler is not None:
                return await _resolve(self.handler, request)
            return ok(None)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1

    async def _token(self, request: HttpRequest, path: str) -> HttpResponse:
        if self.token_answers:
            return await _resolve(self.token_answers.popleft(), request)
        if path == REFRESH_TOKEN_PATH and self.refuse_refresh:
            return fail(1001, "refresh token expired")
        if path == GET_TOKEN_PATH and self.refuse_credentials:
            return fail(1002, "invalid secret")
        return self.issue()

    def issue(self) -> HttpResponse:
        """A fresh token answer."""
        n = len(self.issued) + 1
        access = f"{self.token_prefix}-{n}"
        self.issued.append(access)
        return ok(
            {"accessToken": access, "expireIn": self.expire_in, "refreshToken": f"refresh-{n}"}
        )

    async def aclose(self) -> None:
        self.closed += 1


@attrs.define
class FakeClock:
    """A monotonic clock that only moves when told."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@attrs.define
class RecordingSleep:
    """An injectable ``sleep``: records each delay, advances ``clock`` by it, yields once."""

    clock: FakeClock | None = None
    delays: list[float] = attrs.Factory(list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.advance(delay)
        await asyncio.sleep(0)


class VirtualTime:
    """A clock and a sleep in virtual time: ``run`` advances the clock from timer to timer."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + delay, self._seq, future))
        self._seq += 1
        await future

    async def run(self, tasks: list[asyncio.Task[Any]]) -> None:
        while True:
            for _ in range(20):  # let every woken task reach its next sleep or its end
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            future.set_result(None)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything reachable through ``__cause__``/``__context__`` (and groups)."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                stack.append(nxt)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
    return seen


def texts_of(exc: BaseException) -> list[str]:
    """Every text an exception chain shows: str, repr, args and attribute values of each."""
    out: list[str] = []
    for e in exception_chain(exc):
        out.append(str(e))
        out.append(repr(e))
        out.extend(repr(a) for a in e.args)
        out.extend(repr(v) for v in vars(e).values())
    return out


# --- valid models, for tests that need one and override a field or two ---

START = datetime(2018, 4, 3, 12, 30, tzinfo=SHANGHAI)  # 1522729800000 ms
END = START + timedelta(hours=2)  # 1522737000000 ms


def a_create(**fields: Any) -> CreateMeeting:
    base: dict[str, Any] = {
        "openid": "oid-1",
        "title": "Weekly",
        "start_date": START,
        "end_date": END,
    }
    return CreateMeeting(**{**base, **fields})


def a_modify(**fields: Any) -> ModifyMeeting:
    base: dict[str, Any] = {
        "id": "m-1",
        "openid": "oid-1",
        "title": "Weekly",
        "start_date": START,
        "end_date": END,
    }
    return ModifyMeeting(**{**base, **fields})


def a_cancel(**fields: Any) -> CancelMeeting:
    return CancelMeeting(**{"id": "m-1", "openid": "oid-1", **fields})


def a_repeat(**fields: Any) -> RepeatMeeting:
    base: dict[str, Any] = {
        "openid": "oid-1",
        "title": "Standup",
        "start_date": START,
        "end_date": END,
        "repeat": Repeat.DAILY,
        "repeat_end_date": START + timedelta(days=7),
    }
    return RepeatMeeting(**{**base, **fields})


def a_batch_modify(**fields: Any) -> BatchModify:
    base: dict[str, Any] = {
        "id": "m-2",
        "openid": "oid-1",
        "title": "Standup",
        "start_date": START,
        "end_date": END,
        "repeat": Repeat.DAILY,
        "repeat_end_date": START + timedelta(days=7),
        "batch_id": "m-1",
    }
    return BatchModify(**{**base, **fields})


def a_batch_cancel(**fields: Any) -> BatchCancel:
    return BatchCancel(**{"id": "m-2", "openid": "oid-1", "batch_id": "m-1", **fields})


def a_query(**fields: Any) -> QueryByDay:
    return QueryByDay(fields.pop("day", START), **fields)
