"""``FakeService``: the Yunzhijia meeting service, in memory, as one short request pipeline.

``FakeService.handle(method, path, query, body)`` answers one HTTP request as the real gateway
would; ``FakeTransport`` and the aiohttp emulator in ``server`` only carry bytes to and from it.
The clock (epoch seconds) and the random seed are injectable, so every run can be replayed.
The concerns live in their own modules: ``wire`` (routes, field readers, envelope, rendering),
``store`` (meetings, series, the by-day index, the domain rules), ``tokens``, ``faults``,
``persist`` (the SQLite change log) and ``codes``.

Choices made where the API document is silent:

Envelope and codes
    Every answer is ``{"success", "errorCode", "error", "data"}``, refusals included, with
    HTTP 200 unless the path, the method or a fault says otherwise. Gateway-level codes follow
    the gateway's own ``10000429`` pattern (10000 + the HTTP status): ``PARAM_ERROR_CODE``
    10000400, ``TOKEN_ERROR_CODE`` 10000401 (one of ``DEFAULT_TOKEN_ERROR_CODES``),
    ``NOT_FOUND_ERROR_CODE`` 10000404 (HTTP 404), ``METHOD_ERROR_CODE`` 10000405 (HTTP 405),
    ``THROTTLED_ERROR_CODE`` 10000429, ``INTERNAL_ERROR_CODE`` 10000500 (HTTP 500 fault),
    ``UNAVAILABLE_ERROR_CODE`` 10000503 (HTTP 503 fault). Business refusals use codes outside
    that family so no client mistakes them for a refused token: ``TOKEN_REQUEST_ERROR_CODE``
    10001001 (any refusal by getAccessToken/refreshToken), ``NOT_CREATOR_ERROR_CODE``
    10002001, ``MEETING_CANCELLED_ERROR_CODE`` 10002002. Token answers succeed with errorCode 0.
    Messages are English and name the offending field (``"title is required"``), except the
    throttling message, which is the gateway's own "请求过于频繁". A path with a prefix before
    ``/gateway/`` (a private deployment behind a reverse proxy) is served as the bare path.

Tokens
    See ``tokens``. ``expire_tokens()`` and the ``token_expiry`` fault expire access tokens
    only, so a refresh still works afterwards. The recorded body of a token call has
    ``secret`` and ``refreshToken`` masked.

Meetings
    Timestamps are integers or integer strings (``"1522729800000"``); floats and booleans are
    refused. Enums accept numeric strings (``"repeat": "1"``). An empty string counts as
    missing for required text and for optional numbers. Attendee lists are de-duplicated,
    first occurrence kept. ``type`` is only read by create and repeatMeeting.
    A meeting with a ``roomId`` books that room: see ``bookings``.
    Writes to an existing meeting (modify, cancel, batchModify, batchCancel) are for its
    creator only (``openid`` must match), else ``NOT_CREATOR_ERROR_CODE``; an unknown id is a
    parameter error naming ``id``; both are checked before the other fields are read. A
    meeting made by ``create`` belongs to no series: the batch calls refuse it as a parameter
    error naming ``id``.
    Cancelling is idempotent: cancelling a cancelled meeting (or a series whose rest is already
    cancelled) succeeds and changes nothing; ``cancelDate`` keeps the first cancellation.
    Modifying a cancelled meeting (or batchModify through a cancelled occurrence) answers
    ``MEETING_CANCELLED_ERROR_CODE``. Past meetings may be modified and cancelled.
    ``Meeting.status`` stores 0 (open) or 2 (cancelled); "done" (1) is derived when answering
    (``endDate`` before the clock), and ``doneTime`` is then the meeting's ``endDate``.

Series
    ``repeat`` defaults to 0 when left out (repeatMeeting and batchModify); ``repeatEndDate``
    is required unless ``repeat`` is 0 and may not be before ``startDate``. repeatMeeting also
    accepts create's ``meetingPlace``, ``roomId`` and ``type``. The order of a series is start
    order (ties in creation order); "the given occurrence and every later one" means that order
    from the given occurrence on. batchModify replaces the documented fields of the affected
    occurrences (title, content, noticeTime, topState, submitExperience, repeat,
    repeatEndDate, times, attendees: ``actors`` when sent, else each occurrence's own list +
    addActors − delActors); ``meetingPlace`` and ``roomId``, undocumented there, are replaced
    only when sent; ``type`` is kept. Occurrences cancelled before a batchModify stay cancelled
    and are not reused; new occurrences copy the given occurrence's place, room and type.
    An empty ``batchId`` counts as left out.

queryByDay
    Every meeting of the workspace starting on that Asia/Shanghai day, whoever created it,
    in start order (ties in the order they came to that day), read from a by-day index;
    ``readStatus`` and ``acceptStatus`` are always 0; ``personName`` is ``people[openid]``,
    else ``"用户"`` and the openid's last four characters.

Later endpoints
    detail, queryByRange, queryByUser, getAttendDetail: see ``queries``; pageRecentList and
    the room-booking endpoints (``/api/roomBook/third/``, same accessToken): see
    ``bookings``. create, modify, repeatMeeting and batchModify also take ``noticeTimes``
    (integers of at least -1; with ``noticeTime`` too it is refused), ``meetOrganizers``,
    ``encryption`` and ``shareIds`` (modify and batchModify replace them like the other
    fields); create, repeatMeeting and modify take ``agent`` (modify replaces it, as every
    field: left out, it is cleared), an oid who may then modify and batchModify the meeting
    as its creator can (cancelling stays the creator's).
    cancel and batchCancel take an optional ``cancelReason``.

Rate limit
    Checked after the token (a refused token is not counted), per endpoint; only calls let
    through are counted in the window, so a throttled call costs nothing.

Faults
    The random rates are mutually exclusive: one uniform draw per call picks at most one fault,
    walking ``FAULT_NAMES`` in order (so their sum should stay at or below 1); no draw is made
    while every rate is 0, so the ids of a seeded run do not depend on an idle ``Faults``.
    ``script`` is consumed before any draw. ``latency`` delays every answer, token calls
    included; a refused connection is never delayed. With ``apply_to_tokens`` the token calls
    draw faults too (``token_expiry`` then has no effect there) and consume ``script``.

Persistence
    ``persist_path`` is a SQLite change log shared safely by several processes: see
    ``persist``. Each change is appended before the answer leaves, at a cost independent of
    the number of meetings. A file there that is neither a state database nor a JSON snapshot
    stops the constructor (``ValueError``) instead of being overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from .codes import (
    INTERNAL_ERROR_CODE,
    MEETING_CANCELLED_ERROR_CODE,
    METHOD_ERROR_CODE,
    NOT_CREATOR_ERROR_CODE,
    NOT_FOUND_ERROR_CODE,
    PARAM_ERROR_CODE,
    SUCCESS_CODE,
    THROTTLED_ERROR_CODE,
    TOKEN_ERROR_CODE,
    TOKEN_REQUEST_ERROR_CODE,
    UNAVAILABLE_ERROR_CODE,
    Refusal,
    param,
)
from .faults import BEFORE_FAULTS, FAULT_NAMES, Faults, draw
from .persist import (
    SNAPSHOT_FORMAT,
    ChangeLog,
    is_database,
    read_snapshot,
    row,
    write_snapshot,
)
from .rooms import Room
from .store import STATUS_CANCELLED, STATUS_DONE, STATUS_OPEN, Meeting, MeetingStore
from .tokens import Tokens
from .wire import (
    ALLOW_HEADERS,
    JSON_HEADERS,
    NO_HEADERS,
    RETRY_HEADERS,
    TOKEN_ENDPOINTS,
    Route,
    View,
    envelope,
    find_route,
    locate,
    mask,
)

__all__ = [
    "FAULT_NAMES",
    "INTERNAL_ERROR_CODE",
    "MEETING_CANCELLED_ERROR_CODE",
    "METHOD_ERROR_CODE",
    "NOT_CREATOR_ERROR_CODE",
    "NOT_FOUND_ERROR_CODE",
    "PARAM_ERROR_CODE",
    "SNAPSHOT_FORMAT",
    "STATUS_CANCELLED",
    "STATUS_DONE",
    "STATUS_OPEN",
    "SUCCESS_CODE",
    "THROTTLED_ERROR_CODE",
    "TOKEN_ERROR_CODE",
    "TOKEN_REQUEST_ERROR_CODE",
    "UNAVAILABLE_ERROR_CODE",
    "CallRecord",
    "FakeAnswer",
    "FakeService",
    "Faults",
    "Meeting",
]


@attrs.frozen(repr=False)
class FakeAnswer:
    """What the service answers; the I/O layer waits ``delay`` seconds before acting on it.

    ``drop``: break the connection without an answer. ``refuse``: behave as a refused
    connection (nothing reached the service). ``status``/``body`` are then meaningless.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    delay: float = 0.0
    drop: bool = False
    refuse: bool = False

    def __repr__(self) -> str:  # the body of a token answer holds tokens
        return (
            f"FakeAnswer(status={self.status}, body=<{len(self.body)} bytes>, "
            f"delay={self.delay}, drop={self.drop}, refuse={self.refuse})"
        )


@attrs.frozen
class CallRecord:
    """One call as the service saw it.

    ``status`` is None when no HTTP answer was sent (dropped or refused connection).
    ``error_code`` is the ``errorCode`` sent, or for a dropped or malformed answer the one the
    service decided; None when nothing was decided. ``acted``: the call changed state.
    """

    endpoint: str
    body: dict[str, Any] | None
    status: int | None
    error_code: int | None
    fault: str | None
    acted: bool
    time: float


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if type(parsed) is dict else None


class FakeService:
    """The Yunzhijia meeting service, in memory. See the module docstring for its rules.

    ``clock`` returns epoch seconds; ``credentials`` maps accepted eid/appId to secret
    (``None`` accepts any non-empty pair); ``calls_per_minute`` (``None``: no limit) bounds
    calls per endpoint in any ``rate_window`` seconds; ``people`` maps openid to the
    ``personName`` the reads show; ``rooms`` is the room catalogue (``DEFAULT_ROOMS`` when
    None). With ``persist_path`` the meetings are loaded from that
    file when it exists and every change is appended to it before the answer leaves; several
    services (in several processes) may share one file.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        credentials: Mapping[str, str] | None = None,
        calls_per_minute: int | None = 1500,
        rate_window: float = 60.0,
        token_ttl: int = 7200,
        faults: Faults | None = None,
        seed: int | None = None,
        people: Mapping[str, str] | None = None,
        persist_path: str | os.PathLike[str] | None = None,
        record_calls: bool = True,
        rooms: Iterable[Room] | None = None,
    ) -> None:
        self.clock = clock
        self.calls_per_minute = calls_per_minute
        self.rate_window = rate_window
        self.faults = faults if faults is not None else Faults()
        self.people: Mapping[str, str] = people if people is not None else {}
        self.persist_path = os.fspath(persist_path) if persist_path is not None else None
        self.record_calls = record_calls

        self.calls: list[CallRecord] = []
        self.token_requests = 0
        self.faults_injected: Counter[str] = Counter()

        self._random = random.Random(seed)
        self.store = MeetingStore(self._random, rooms)
        self.tokens = Tokens(self._random, credentials, token_ttl)
        self._windows: dict[str, deque[float]] = {}
        self._log: ChangeLog | None = None
        if self.persist_path is not None:
            self._log = ChangeLog(self.persist_path)
            self._log.open(self.store)

    @property
    def meetings(self) -> dict[str, Meeting]:
        """Every meeting by id (cancelled ones too). Edit in place; :meth:`save` to persist."""
        return self.store.meetings

    @property
    def credentials(self) -> Mapping[str, str] | None:
        """Accepted eid/appId -> secret (``None``: any non-empty pair)."""
        return self.tokens.credentials

    @credentials.setter
    def credentials(self, value: Mapping[str, str] | None) -> None:
        self.tokens.credentials = value

    @property
    def token_ttl(self) -> int:
        """The lifetime of a new access token, in seconds."""
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, value: int) -> None:
        self.tokens.ttl = value

    # --- the one entry point -----------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> FakeAnswer:
        """Answer one HTTP request. ``query`` and ``body`` are read, never kept or changed."""
        route = find_route(path)
        if route is None:
            return self._reject(path, 404, NOT_FOUND_ERROR_CODE, f"no such interface: {path}")
        if method != "POST" and method.upper() != "POST":
            message = f"{method} is not allowed: use POST"
            return self._reject(route.name, 405, METHOD_ERROR_CODE, message)
        now = self.clock()
        fault = self._fault(route)
        parsed = _json_object(body)
        if fault in BEFORE_FAULTS:
            return self._before(route.name, parsed, fault, now)
        acted = False
        try:
            if route.token:
                self.token_requests += 1
                data, acted = self.tokens.answer(route.name, parsed, now), True
            else:
                eid = self.tokens.check(query.get("accessToken"), fault == "token_expiry", now)
                self._admit(route.name, now)
                data, acted = self._run(route, parsed, int(now * 1000), eid)
            code, payload = route.ok_code, envelope(True, route.ok_code, route.ok_error, data)
        except Refusal as refusal:
            code, payload = refusal.code, envelope(False, refusal.code, refusal.message, None)
        return self._after(route.name, parsed, fault, acted, code, payload, now)

    def _fault(self, route: Route) -> str | None:
        faults = self.faults
        if route.token and not faults.apply_to_tokens:
            return None
        fault = draw(faults, self._random)
        if fault is None or (route.token and fault == "token_expiry"):
            return None
        self.faults_injected[fault] += 1
        return fault

    def _run(
        self, route: Route, body: dict[str, Any] | None, now: int, eid: str | None
    ) -> tuple[Any, bool]:
        """Locate the target, parse the body, apply the rule (persisted) and render."""
        if body is None:
            raise param("the body must be a JSON object")
        assert route.apply is not None
        store = self.store
        version = store.version
        with self._persisting(route.writes):
            located = locate(store, route, body)
            command = route.parse(body)
            if route.eid_checked and eid is not None and body.get("eid") != eid:
                raise param("eid is not the workspace of the accessToken")
            result = route.apply(store, located, command, now)
        if self._log is None:
            store.take_changes()  # nothing to persist them to
        view = View(store, now, self.people, eid)
        return route.render(result, view), store.version != version

    @contextlib.contextmanager
    def _persisting(self, writes: bool) -> Iterator[None]:
        log = self._log
        if log is None:
            yield
        elif writes:
            with log.writing(self.store):
                yield
        else:
            log.catch_up(self.store)
            yield

    def _after(
        self,
        name: str,
        parsed: dict[str, Any] | None,
        fault: str | None,
        acted: bool,
        code: int,
        payload: bytes,
        now: float,
    ) -> FakeAnswer:
        """Apply an after-acting fault to the answer and log the call."""
        status, headers, drop = 200, JSON_HEADERS, False
        if fault == "server_error_after":
            status, code = 500, INTERNAL_ERROR_CODE
            payload = envelope(False, code, "internal server error", None)
        elif fault == "drop_after":
            status, headers, drop, payload = 0, NO_HEADERS, True, b""
        elif fault == "malformed":
            payload = payload[: len(payload) // 2]  # a cut-off object is never valid JSON
        if self.record_calls:
            self._record(name, parsed, None if drop else status, code, fault, acted, now)
        return FakeAnswer(status, headers, payload, self.faults.latency, drop)

    def _before(
        self, name: str, parsed: dict[str, Any] | None, fault: str, now: float
    ) -> FakeAnswer:
        """The answer of a fault that strikes before the service acts."""
        latency = self.faults.latency
        status: int | None
        code: int | None = None
        if fault == "refuse":
            status, answer = None, FakeAnswer(0, NO_HEADERS, b"", refuse=True)
        elif fault == "drop_before":
            status, answer = None, FakeAnswer(0, NO_HEADERS, b"", latency, drop=True)
        elif fault == "server_error":
            status, code = 503, UNAVAILABLE_ERROR_CODE
            body = envelope(False, code, "service unavailable", None)
            answer = FakeAnswer(503, JSON_HEADERS, body, latency)
        else:  # throttle (HTTP 200) or http_429
            status, code = (429 if fault == "http_429" else 200), THROTTLED_ERROR_CODE
            body = envelope(False, code, "请求过于频繁", None)
            headers = RETRY_HEADERS if status == 429 else JSON_HEADERS
            answer = FakeAnswer(status, headers, body, latency)
        if self.record_calls:
            self._record(name, parsed, status, code, fault, False, now)
        return answer

    def _reject(self, name: str, status: int, code: int, message: str) -> FakeAnswer:
        if self.record_calls:
            self._record(name, None, status, code, None, False, self.clock())
        headers = ALLOW_HEADERS if status == 405 else JSON_HEADERS
        body = envelope(False, code, message, None)
        return FakeAnswer(status, headers, body, self.faults.latency)

    def _record(
        self,
        name: str,
        body: dict[str, Any] | None,
        status: int | None,
        code: int | None,
        fault: str | None,
        acted: bool,
        now: float,
    ) -> None:
        if body is not None and name in TOKEN_ENDPOINTS:
            body = mask(body)
        self.calls.append(CallRecord(name, body, status, code, fault, acted, now))

    def _admit(self, name: str, now: float) -> None:
        """Refuse the call for the rate limit, or count it in the window."""
        limit = self.calls_per_minute
        if limit is None:
            return
        window = self._windows.get(name)
        if window is None:
            window = self._windows[name] = deque()
        cutoff = now - self.rate_window
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) >= limit:
            raise Refusal(THROTTLED_ERROR_CODE, "请求过于频繁")
        window.append(now)

    # --- state ---------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Make every access token issued so far expired now (refresh tokens stay usable)."""
        self.tokens.expire_all()

    def series(self, batch_id: str) -> list[Meeting]:
        """The occurrences of a series (cancelled ones too), in start order."""
        return self.store.series(batch_id)

    def respond(self, meeting_id: str, openid: str, join_status: int) -> None:
        """Record attendee ``openid``'s answer to a meeting (as their app would): joinStatus
        1 declined, 2 joining, 3 delegated, 0 none. Persisted like a write call."""
        with self._persisting(True):
            self.store.respond(self.meetings[meeting_id], openid, join_status)
        if self._log is None:
            self.store.take_changes()

    def check_in(self, meeting_id: str, openid: str) -> None:
        """Record attendee ``openid`` checking in to a meeting now (getAttendDetail shows it).
        Persisted like a write call."""
        with self._persisting(True):
            meeting = self.meetings[meeting_id]
            self.store.check_in(meeting, openid, int(self.clock() * 1000))
        if self._log is None:
            self.store.take_changes()

    def status_of(self, meeting_id: str) -> int:
        """``meetingStatus`` as queryByDay would report it now: 0 open, 1 done, 2 cancelled."""
        return self.store.status(self.meetings[meeting_id], int(self.clock() * 1000))

    @property
    def change_log(self) -> ChangeLog | None:
        """The change log at ``persist_path`` (``None`` without one)."""
        return self._log

    def catch_up(self) -> None:
        """Apply the changes other processes appended to ``persist_path`` (calls do this)."""
        if self._log is not None:
            self._log.catch_up(self.store)

    def close(self) -> None:
        """Close ``persist_path`` (the service keeps working; it reopens it when needed)."""
        if self._log is not None:
            self._log.close()

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The meetings as a JSON-ready dict (tokens, calls and counters are not included)."""
        return {"format": SNAPSHOT_FORMAT, "meetings": [row(m) for m in self.meetings.values()]}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any], **kwargs: Any) -> FakeService:
        """A service holding the meetings of ``data``; ``kwargs`` go to the constructor."""
        records = read_snapshot(data)
        service = cls(**kwargs)
        service.store.clear()
        for record in records:
            service.store.put(record)
        if service._log is not None:
            service._log.compact(service.meetings.values())
        return service

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> FakeService:
        """A service holding the meetings saved in ``path`` (a state file or a JSON snapshot)."""
        path = os.fspath(path)
        if not is_database(path):
            with open(path, encoding="utf-8") as file:
                return cls.from_snapshot(json.load(file), **kwargs)
        service = cls(**kwargs)
        log = ChangeLog(path)
        try:
            log.catch_up(service.store)
        finally:
            log.close()
        service.store.take_changes()
        return service

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the meetings to ``path``: a JSON snapshot, written atomically (temp file,
        fsync, rename) — or, when ``path`` is ``persist_path``, the state file compacted to the
        meetings as they are now (the way to persist meetings edited by hand)."""
        path = os.fspath(path)
        if self._log is not None and _same_file(path, self._log.path):
            self._log.compact(self.meetings.values())
        else:
            write_snapshot(path, self.meetings.values())


def _same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)
