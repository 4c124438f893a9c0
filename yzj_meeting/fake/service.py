"""A stateful in-memory model of the Yunzhijia meeting service (pure Python, no I/O).

``FakeService.handle(method, path, query, body)`` answers one HTTP request as the real gateway
would; ``FakeTransport`` and the aiohttp emulator in ``server`` only carry bytes to and from it.
The clock (epoch seconds) and the random seed are injectable, so every run can be replayed.

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
    Scope ``resGroupSecret`` is checked against ``credentials[eid]``, ``app`` against
    ``credentials[appId]``, ``team`` against ``credentials[appId]`` or ``credentials[eid]``; a
    missing ``scope`` is refused. ``expireIn`` is the remaining lifetime in whole seconds
    (``token_ttl`` for a fresh token, less when the same token is handed out again). Refresh
    tokens do not expire by time but rotate: each identity has one valid refresh token, that of
    its newest access token; using it issues a new pair and retires it. ``expire_tokens()`` and
    the ``token_expiry`` fault expire access tokens only, so a refresh still works afterwards.
    The recorded body of a token call has ``secret`` and ``refreshToken`` masked.

Meetings
    Timestamps are integers or integer strings (``"1522729800000"``); floats and booleans are
    refused. Enums accept numeric strings (``"repeat": "1"``). An empty string counts as
    missing for required text and for optional numbers. Attendee lists are de-duplicated,
    first occurrence kept. ``type`` is only read by create and repeatMeeting.
    ``roomOrderId`` is always ``""`` (the fake books no rooms).
    Writes to an existing meeting (modify, cancel, batchModify, batchCancel) are for its
    creator only (``openid`` must match), else ``NOT_CREATOR_ERROR_CODE``; an unknown id is a
    parameter error naming ``id``. A meeting made by ``create`` belongs to no series: the batch
    calls refuse it as a parameter error naming ``id``.
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
    in start order (ties in the order they came to that day); ``readStatus`` and
    ``acceptStatus`` are always 0; ``personName`` is ``people[openid]``, else ``"用户"`` and
    the openid's last four characters.

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
    ``persist_path`` holds a JSON snapshot of the meetings (no tokens, calls or counters),
    rewritten atomically after every call that changed a meeting, before the answer leaves;
    only the meetings the call changed are re-encoded, but the whole file is rewritten, so a
    write costs time in proportion to the meetings held. A file at ``persist_path`` that is not
    a snapshot stops the constructor (``ValueError``) instead of being overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final

import attrs

from ..errors import THROTTLED_ERROR_CODE
from .calendar import (
    REPEAT_NONE,
    REPEAT_RULES,
    SeriesTooLongError,
    expand_ms,
    shanghai_day,
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

SUCCESS_CODE: Final = 0
PARAM_ERROR_CODE: Final = 10000400
"""A missing, empty or malformed field, an unknown id, a bad enum value, a bad batchId."""
TOKEN_ERROR_CODE: Final = 10000401
"""The ``accessToken`` of a meeting call is missing, unknown or expired."""
NOT_FOUND_ERROR_CODE: Final = 10000404
METHOD_ERROR_CODE: Final = 10000405
INTERNAL_ERROR_CODE: Final = 10000500
UNAVAILABLE_ERROR_CODE: Final = 10000503
TOKEN_REQUEST_ERROR_CODE: Final = 10001001
"""getAccessToken / refreshToken refused: credentials, refresh token, timestamp or scope."""
NOT_CREATOR_ERROR_CODE: Final = 10002001
"""Only the meeting's creator may change or cancel it."""
MEETING_CANCELLED_ERROR_CODE: Final = 10002002
"""The meeting to modify is cancelled."""

STATUS_OPEN: Final = 0
STATUS_DONE: Final = 1
STATUS_CANCELLED: Final = 2

SNAPSHOT_FORMAT: Final = "yzj_meeting.fake/1"

FAULT_NAMES: Final = (
    "server_error",
    "server_error_after",
    "drop_before",
    "drop_after",
    "malformed",
    "throttle",
    "http_429",
    "token_expiry",
    "refuse",
)
"""Fault kinds, in the order the random draw walks them; ``script`` also takes ``"ok"``."""
_SCRIPT_NAMES = frozenset((*FAULT_NAMES, "ok"))
_BEFORE_FAULTS = frozenset(("server_error", "drop_before", "throttle", "http_429", "refuse"))

_NOTICE_TIMES = frozenset((-1, 0, 15, 60))
_TOP_STATES = frozenset((0, 1))
_TYPES = frozenset(("sign", "voice"))
_SERIES_LIMIT = 1000
_TIMESTAMP_SKEW = 180.0
_INT_RE = re.compile(r"-?[0-9]+")

_JSON_HEADERS: Mapping[str, str] = MappingProxyType(
    {"content-type": "application/json;charset=UTF-8"}
)
_RETRY_HEADERS: Mapping[str, str] = MappingProxyType({**_JSON_HEADERS, "retry-after": "1"})
_ALLOW_HEADERS: Mapping[str, str] = MappingProxyType({**_JSON_HEADERS, "allow": "POST"})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_OK_NULL = b'{"success":true,"errorCode":0,"error":null,"data":null}'


def _check_rate(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, not {value!r}")


def _check_script(_: Any, __: attrs.Attribute[list[str]], value: list[str]) -> None:
    unknown = [name for name in value if name not in _SCRIPT_NAMES]
    if unknown:
        raise ValueError(f"unknown fault names in script: {unknown!r}")


def _rate() -> Any:
    return attrs.field(default=0.0, validator=_check_rate)


@attrs.define
class Faults:
    """Failures to inject. Rates are fractions of calls, drawn from the service's seeded random.

    Before acting: ``server_error`` (HTTP 503), ``drop_before`` (connection broken),
    ``throttle`` (errorCode 10000429), ``http_429`` (HTTP 429, ``retry-after: 1``),
    ``token_expiry`` (the presented token expires now: errorCode 10000401), ``refuse``
    (connection refused). After acting: ``server_error_after`` (HTTP 500), ``drop_after``
    (connection broken), ``malformed`` (the answer cut in half: not JSON). ``latency`` is added
    to every answer. ``script`` is a queue of fault names (or ``"ok"``) consumed one per call
    before any draw. Attributes may be changed at any time, also while a server runs.
    """

    latency: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    server_error: float = _rate()
    server_error_after: float = _rate()
    drop_before: float = _rate()
    drop_after: float = _rate()
    malformed: float = _rate()
    throttle: float = _rate()
    http_429: float = _rate()
    token_expiry: float = _rate()
    refuse: float = _rate()
    script: list[str] = attrs.field(factory=list, validator=_check_script)
    apply_to_tokens: bool = False


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


@attrs.define
class Meeting:
    """One stored meeting: the wire fields in snake_case, times in epoch ms."""

    id: str
    openid: str
    title: str
    start_date: int
    end_date: int
    create_date: int
    content: str | None = None
    meeting_place: str | None = None
    room_id: str | None = None
    notice_time: int | None = None
    top_state: int | None = None
    actors: list[str] = attrs.Factory(list)
    type: str | None = None
    submit_experience: bool | None = None
    repeat: int | None = None
    repeat_end_date: int | None = None
    batch_id: str | None = None
    status: int = STATUS_OPEN
    cancel_date: int | None = None


_MEETING_FIELDS = tuple(field.name for field in attrs.fields(Meeting))


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


@attrs.define
class _Grant:
    identity: tuple[str, ...]
    access_token: str
    refresh_token: str
    expires_at: float


class _Refusal(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _param(message: str) -> _Refusal:
    return _Refusal(PARAM_ERROR_CODE, message)


def _envelope(success: bool, code: int, error: str | None, data: Any) -> bytes:
    return json.dumps(
        {"success": success, "errorCode": code, "error": error, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


# --- field readers: each raises a parameter error naming the field ---------------------------


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or type(value) is str:
        return value
    raise _param(f"{name} must be a string")


def _required_text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise _param(f"{name} is required")
    if type(value) is not str:
        raise _param(f"{name} must be a string")
    return value


def _int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if type(value) is int:
        return value
    if value is None or value == "":
        return None
    if type(value) is str and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise _param(f"{name} must be an integer")


def _required_int(body: Mapping[str, Any], name: str) -> int:
    value = _int(body, name)
    if value is None:
        raise _param(f"{name} is required")
    return value


def _choice(body: Mapping[str, Any], name: str, allowed: frozenset[int]) -> int | None:
    value = _int(body, name)
    if value is None or value in allowed:
        return value
    raise _param(f"{name} must be one of {sorted(allowed)}, not {value}")


def _flag(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or type(value) is bool:
        return value
    raise _param(f"{name} must be true or false")


def _meeting_type(body: Mapping[str, Any]) -> str | None:
    value = body.get("type")
    if value is None:
        return None
    if value in _TYPES:
        return str(value)
    raise _param('type must be null, "sign" or "voice"')


def _oids(body: Mapping[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not list or not all(type(v) is str and v for v in value):
        raise _param(f"{name} must be a list of non-empty oid strings")
    return list(dict.fromkeys(value))


def _span(body: Mapping[str, Any]) -> tuple[int, int]:
    start = _required_int(body, "startDate")
    end = _required_int(body, "endDate")
    if end <= start:
        raise _param("endDate must be after startDate")
    return start, end


def _repeat(body: Mapping[str, Any], start: int) -> tuple[int, int | None]:
    rule = _choice(body, "repeat", REPEAT_RULES)
    until = _int(body, "repeatEndDate")
    if rule is None:
        rule = REPEAT_NONE
    if until is None and rule != REPEAT_NONE:
        raise _param("repeatEndDate is required when repeat is not 0")
    if until is not None and until < start:
        raise _param("repeatEndDate must not be before startDate")
    return rule, until


def _replaced(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every create/modify/series call sets, read from ``body``."""
    return {
        "title": _required_text(body, "title"),
        "content": _text(body, "content"),
        "notice_time": _choice(body, "noticeTime", _NOTICE_TIMES),
        "top_state": _choice(body, "topState", _TOP_STATES),
        "submit_experience": _flag(body, "submitExperience"),
    }


def _new_actors(
    old: list[str], actors: list[str] | None, add: list[str] | None, remove: list[str] | None
) -> list[str]:
    if actors is not None:
        return list(actors)
    if not add and not remove:
        return list(old)
    gone = set(remove or ())
    return [oid for oid in dict.fromkeys([*old, *(add or ())]) if oid not in gone]


_MEETING_ROUTES = ("create", "modify", "cancel", "repeatMeeting", "batchModify", "batchCancel")
_TOKEN_ENDPOINTS = frozenset(("getAccessToken", "refreshToken"))
_MASKED = frozenset(("secret", "refreshToken"))
_ROUTES: dict[str, tuple[str, bool]] = {
    **{f"/gateway/cloudwork/meeting/{name}": (name, False) for name in _MEETING_ROUTES},
    "/gateway/cloudwork/meeting/queryByDay": ("queryByDay", False),
    "/gateway/oauth2/token/getAccessToken": ("getAccessToken", True),
    "/gateway/oauth2/token/refreshToken": ("refreshToken", True),
}


class FakeService:
    """The Yunzhijia meeting service, in memory. See the module docstring for its rules.

    ``clock`` returns epoch seconds; ``credentials`` maps accepted eid/appId to secret
    (``None`` accepts any non-empty pair); ``calls_per_minute`` (``None``: no limit) bounds
    calls per endpoint in any ``rate_window`` seconds; ``people`` maps openid to the
    ``personName`` queryByDay shows. With ``persist_path`` the meetings are loaded from that
    file when it exists and written back before answering any call that changed them.
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
    ) -> None:
        self.clock = clock
        self.credentials = credentials
        self.calls_per_minute = calls_per_minute
        self.rate_window = rate_window
        self.token_ttl = token_ttl
        self.faults = faults if faults is not None else Faults()
        self.people: Mapping[str, str] = people if people is not None else {}
        self.persist_path = os.fspath(persist_path) if persist_path is not None else None
        self.record_calls = record_calls

        self.meetings: dict[str, Meeting] = {}
        self.calls: list[CallRecord] = []
        self.token_requests = 0
        self.faults_injected: Counter[str] = Counter()

        self._random = random.Random(seed)
        self._series: dict[str, list[str]] = {}  # batch id -> member ids, creation order
        self._days: dict[int, dict[str, None]] = {}  # Shanghai day -> ids starting that day
        self._windows: dict[str, deque[float]] = {}
        self._tokens: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._grants: dict[tuple[str, ...], _Grant] = {}
        self._encoded: dict[str, str] = {}  # meeting id -> its JSON, for the write-through
        self._ops: dict[str, Callable[[dict[str, Any], int], tuple[Any, list[Meeting]]]] = {
            "create": self._op_create,
            "modify": self._op_modify,
            "cancel": self._op_cancel,
            "repeatMeeting": self._op_repeat_meeting,
            "batchModify": self._op_batch_modify,
            "batchCancel": self._op_batch_cancel,
            "queryByDay": self._op_query_by_day,
        }

        if self.persist_path is not None and os.path.exists(self.persist_path):
            with open(self.persist_path, encoding="utf-8") as file:
                self._restore(json.load(file))

    # --- the one entry point -----------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> FakeAnswer:
        """Answer one HTTP request. ``query`` and ``body`` are read, never kept or changed."""
        route = _ROUTES.get(path)
        if route is None:
            cut = path.find("/gateway/")
            route = _ROUTES.get(path[cut:]) if cut > 0 else None
            if route is None:
                return self._reject(path, 404, NOT_FOUND_ERROR_CODE, f"no such interface: {path}")
        name, is_token = route
        if method != "POST" and method.upper() != "POST":
            return self._reject(name, 405, METHOD_ERROR_CODE, f"{method} is not allowed: use POST")

        now = self.clock()
        faults = self.faults
        fault = self._draw(faults) if not is_token or faults.apply_to_tokens else None
        if fault is not None:
            if is_token and fault == "token_expiry":
                fault = None
            else:
                self.faults_injected[fault] += 1
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if type(parsed) is not dict:
            parsed = None

        if fault in _BEFORE_FAULTS:
            return self._before(name, parsed, fault, now, faults.latency)

        acted = False
        try:
            if is_token:
                self.token_requests += 1
                data, acted = self._token_call(name, parsed, now), True
            else:
                self._admit(name, query, fault, now)
                if parsed is None:
                    raise _param("the body must be a JSON object")
                data, touched = self._ops[name](parsed, int(now * 1000))
                if touched:
                    acted = True
                    if self.persist_path is not None:
                        self._persist(self.persist_path, touched)
            code = SUCCESS_CODE
            payload = _OK_NULL if data is None else _envelope(True, SUCCESS_CODE, None, data)
        except _Refusal as refusal:
            code = refusal.code
            payload = _envelope(False, code, refusal.message, None)

        status, headers, drop = 200, _JSON_HEADERS, False
        if fault == "server_error_after":
            status, code = 500, INTERNAL_ERROR_CODE
            payload = _envelope(False, code, "internal server error", None)
        elif fault == "drop_after":
            status, headers, drop, payload = 0, _NO_HEADERS, True, b""
        elif fault == "malformed":
            payload = payload[: len(payload) // 2]  # a cut-off object is never valid JSON
        if self.record_calls:
            self._record(name, parsed, None if drop else status, code, fault, acted, now)
        return FakeAnswer(status, headers, payload, faults.latency, drop)

    def _draw(self, faults: Faults) -> str | None:
        if faults.script:
            name = faults.script.pop(0)
            if name not in _SCRIPT_NAMES:
                raise ValueError(f"unknown fault name in script: {name!r}")
            return None if name == "ok" else name
        total = (
            faults.server_error
            + faults.server_error_after
            + faults.drop_before
            + faults.drop_after
            + faults.malformed
            + faults.throttle
            + faults.http_429
            + faults.token_expiry
            + faults.refuse
        )
        if total <= 0.0:
            return None
        draw = self._random.random()
        for name in FAULT_NAMES:
            draw -= getattr(faults, name)
            if draw < 0.0:
                return name
        return None

    def _before(
        self, name: str, parsed: dict[str, Any] | None, fault: str, now: float, latency: float
    ) -> FakeAnswer:
        """The answer of a fault that strikes before the service acts."""
        status: int | None
        code: int | None = None
        if fault == "refuse":
            status, answer = None, FakeAnswer(0, _NO_HEADERS, b"", refuse=True)
        elif fault == "drop_before":
            status, answer = None, FakeAnswer(0, _NO_HEADERS, b"", latency, drop=True)
        elif fault == "server_error":
            status, code = 503, UNAVAILABLE_ERROR_CODE
            body = _envelope(False, code, "service unavailable", None)
            answer = FakeAnswer(503, _JSON_HEADERS, body, latency)
        else:  # throttle (HTTP 200) or http_429
            status, code = (429 if fault == "http_429" else 200), THROTTLED_ERROR_CODE
            body = _envelope(False, code, "请求过于频繁", None)
            headers = _RETRY_HEADERS if status == 429 else _JSON_HEADERS
            answer = FakeAnswer(status, headers, body, latency)
        if self.record_calls:
            self._record(name, parsed, status, code, fault, False, now)
        return answer

    def _reject(self, name: str, status: int, code: int, message: str) -> FakeAnswer:
        if self.record_calls:
            self._record(name, None, status, code, None, False, self.clock())
        headers = _ALLOW_HEADERS if status == 405 else _JSON_HEADERS
        body = _envelope(False, code, message, None)
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
        if body is not None and name in _TOKEN_ENDPOINTS:
            body = {k: "<masked>" if k in _MASKED else v for k, v in body.items()}
        self.calls.append(CallRecord(name, body, status, code, fault, acted, now))

    def _admit(self, name: str, query: Mapping[str, str], fault: str | None, now: float) -> None:
        """Refuse the call for its token or the rate limit, or count it in the window."""
        token = query.get("accessToken")
        grant = self._tokens.get(token) if token else None
        if grant is not None and fault == "token_expiry":
            grant.expires_at = now
        if grant is None or grant.expires_at <= now:
            raise _Refusal(TOKEN_ERROR_CODE, "accessToken is missing, unknown or expired")
        limit = self.calls_per_minute
        if limit is not None:
            window = self._windows.get(name)
            if window is None:
                window = self._windows[name] = deque()
            cutoff = now - self.rate_window
            while window and window[0] <= cutoff:
                window.popleft()
            if len(window) >= limit:
                raise _Refusal(THROTTLED_ERROR_CODE, "请求过于频繁")
            window.append(now)

    # --- tokens --------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Make every access token issued so far expired now (refresh tokens stay usable)."""
        for grant in self._tokens.values():
            grant.expires_at = float("-inf")

    def _token_call(self, name: str, body: dict[str, Any] | None, now: float) -> dict[str, Any]:
        if body is None:
            raise _Refusal(TOKEN_REQUEST_ERROR_CODE, "the body must be a JSON object")
        try:
            stamp = _required_int(body, "timestamp")
        except _Refusal as refusal:
            raise _Refusal(TOKEN_REQUEST_ERROR_CODE, refusal.message) from None
        if abs(stamp / 1000.0 - now) > _TIMESTAMP_SKEW:
            raise _Refusal(
                TOKEN_REQUEST_ERROR_CODE,
                f"timestamp is more than {_TIMESTAMP_SKEW:g} s away from the server clock",
            )
        scope = body.get("scope")
        if name == "getAccessToken":
            identity = self._identity(body, scope)
            grant = self._grants.get(identity)
            if grant is None or grant.expires_at <= now:
                grant = self._issue(identity, now)
        else:
            presented = body.get("refreshToken")
            old = self._refresh.get(presented) if type(presented) is str else None
            if old is None:
                raise _Refusal(TOKEN_REQUEST_ERROR_CODE, "refreshToken is unknown or used")
            if scope is not None and scope != old.identity[0]:
                raise _Refusal(TOKEN_REQUEST_ERROR_CODE, "scope does not match the refreshToken")
            for key in ("eid", "appId"):
                if body.get(key) is not None and body[key] not in old.identity[1:]:
                    raise _Refusal(TOKEN_REQUEST_ERROR_CODE, f"{key} does not match the token")
            grant = self._issue(old.identity, now)
        return {
            "accessToken": grant.access_token,
            "expireIn": max(1, round(grant.expires_at - now)),
            "refreshToken": grant.refresh_token,
        }

    def _identity(self, body: dict[str, Any], scope: Any) -> tuple[str, ...]:
        if scope == "resGroupSecret":
            keys: tuple[str, ...] = ("eid",)
        elif scope == "app":
            keys = ("appId",)
        elif scope == "team":
            keys = ("eid", "appId")
        else:
            raise _Refusal(
                TOKEN_REQUEST_ERROR_CODE, 'scope must be "resGroupSecret", "app" or "team"'
            )
        values = []
        for key in (*keys, "secret"):
            value = body.get(key)
            if type(value) is not str or not value:
                raise _Refusal(TOKEN_REQUEST_ERROR_CODE, f"{key} is required")
            values.append(value)
        *ids, secret = values
        known = self.credentials
        if known is not None and not any(known.get(i) == secret for i in ids):
            raise _Refusal(TOKEN_REQUEST_ERROR_CODE, "the credentials were refused")
        return (scope, *ids)

    def _issue(self, identity: tuple[str, ...], now: float) -> _Grant:
        self._tokens = {t: g for t, g in self._tokens.items() if g.expires_at > now}
        previous = self._grants.get(identity)
        if previous is not None:
            self._refresh.pop(previous.refresh_token, None)
        bits = self._random.getrandbits
        grant = _Grant(identity, f"{bits(192):048x}", f"{bits(192):048x}", now + self.token_ttl)
        self._tokens[grant.access_token] = grant
        self._refresh[grant.refresh_token] = grant
        self._grants[identity] = grant
        return grant

    # --- meeting operations: each returns (data, meetings changed) or raises _Refusal ---------

    def _op_create(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        fields = _replaced(body)
        start, end = _span(body)
        meeting = Meeting(
            id=self._new_id(),
            openid=_required_text(body, "openid"),
            start_date=start,
            end_date=end,
            create_date=now,
            meeting_place=_text(body, "meetingPlace"),
            room_id=_text(body, "roomId"),
            actors=_oids(body, "actors") or [],
            type=_meeting_type(body),
            **fields,
        )
        self._add(meeting)
        return {"meetingId": meeting.id}, [meeting]

    def _op_modify(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        meeting = self._writable(body)
        fields = _replaced(body)
        start, end = _span(body)
        fields["meeting_place"] = _text(body, "meetingPlace")
        fields["room_id"] = _text(body, "roomId")
        actors, add, remove = (_oids(body, k) for k in ("actors", "addActors", "delActors"))
        if meeting.status == STATUS_CANCELLED:
            raise _Refusal(MEETING_CANCELLED_ERROR_CODE, "the meeting is cancelled")
        fields["actors"] = _new_actors(meeting.actors, actors, add, remove)
        for key, value in fields.items():
            setattr(meeting, key, value)
        self._move(meeting, start, end)
        return None, [meeting]

    def _op_cancel(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        meeting = self._writable(body)
        if meeting.status == STATUS_CANCELLED:
            return None, []
        meeting.status, meeting.cancel_date = STATUS_CANCELLED, now
        return None, [meeting]

    def _op_repeat_meeting(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        openid = _required_text(body, "openid")
        fields = _replaced(body)
        start, end = _span(body)
        rule, until = _repeat(body, start)
        occurrences = self._expand(start, end, rule, until)
        template = {
            "openid": openid,
            "meeting_place": _text(body, "meetingPlace"),
            "room_id": _text(body, "roomId"),
            "type": _meeting_type(body),
            "repeat": rule,
            "repeat_end_date": until,
            **fields,
        }
        actors = _oids(body, "actors") or []
        created: list[Meeting] = []
        for occ_start, occ_end in occurrences:
            meeting_id = self._new_id()
            meeting = Meeting(
                id=meeting_id,
                start_date=occ_start,
                end_date=occ_end,
                create_date=now,
                actors=list(actors),
                batch_id=created[0].id if created else meeting_id,
                **template,
            )
            created.append(meeting)
            self._add(meeting)
        ids = [m.id for m in created]
        self._series[ids[0]] = list(ids)
        return {"meetingIds": ids}, created

    def _op_batch_modify(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        given, affected = self._batch_target(body)
        fields = _replaced(body)
        start, end = _span(body)
        rule, until = _repeat(body, start)
        actors, add, remove = (_oids(body, k) for k in ("actors", "addActors", "delActors"))
        if given.status == STATUS_CANCELLED:
            raise _Refusal(MEETING_CANCELLED_ERROR_CODE, "the meeting is cancelled")
        occurrences = self._expand(start, end, rule, until)
        fields["repeat"], fields["repeat_end_date"] = rule, until
        for wire, name in (("meetingPlace", "meeting_place"), ("roomId", "room_id")):
            if wire in body:
                fields[name] = _text(body, wire)
        live = [m for m in affected if m.status != STATUS_CANCELLED]
        base_actors = given.actors  # replaced, never mutated, in the loop below
        batch = given.batch_id
        assert batch is not None
        touched: list[Meeting] = []
        for index, (occ_start, occ_end) in enumerate(occurrences):
            if index < len(live):
                meeting = live[index]
                old_actors = meeting.actors
            else:
                meeting = Meeting(
                    id=self._new_id(),
                    openid=given.openid,
                    title=given.title,
                    start_date=occ_start,
                    end_date=occ_end,
                    create_date=now,
                    meeting_place=given.meeting_place,
                    room_id=given.room_id,
                    type=given.type,
                    batch_id=batch,
                )
                old_actors = base_actors
                self._add(meeting)
                self._series[batch].append(meeting.id)
            for key, value in fields.items():
                setattr(meeting, key, value)
            meeting.actors = _new_actors(old_actors, actors, add, remove)
            self._move(meeting, occ_start, occ_end)
            touched.append(meeting)
        for meeting in live[len(occurrences) :]:
            meeting.status, meeting.cancel_date = STATUS_CANCELLED, now
            touched.append(meeting)
        return None, touched

    def _op_batch_cancel(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        _, affected = self._batch_target(body)
        touched = [m for m in affected if m.status != STATUS_CANCELLED]
        for meeting in touched:
            meeting.status, meeting.cancel_date = STATUS_CANCELLED, now
        return None, touched

    def _op_query_by_day(self, body: dict[str, Any], now: int) -> tuple[Any, list[Meeting]]:
        day = _required_int(body, "day")
        bucket = self._days.get(shanghai_day(day))
        if not bucket:
            return [], []
        meetings = sorted((self.meetings[i] for i in bucket), key=attrgetter("start_date"))
        return [self._info(m, now) for m in meetings], []

    # --- helpers --------------------------------------------------------------------------------

    def _info(self, m: Meeting, now: int) -> dict[str, Any]:
        if m.status == STATUS_CANCELLED:
            status = STATUS_CANCELLED
        else:
            status = STATUS_DONE if m.end_date < now else STATUS_OPEN
        name = self.people.get(m.openid)
        item = {
            "openid": m.openid,
            "type": m.type,
            "title": m.title,
            "content": m.content,
            "meetingPlace": m.meeting_place,
            "meetingStatus": status,
            "readStatus": 0,
            "acceptStatus": 0,
            "personName": name if name is not None else f"用户{m.openid[-4:]}",
            "doneTime": m.end_date if status == STATUS_DONE else None,
            "id": m.id,
            "noticeTime": m.notice_time,
            "startDate": m.start_date,
            "endDate": m.end_date,
            "createDate": m.create_date,
            "roomId": m.room_id,
            "roomOrderId": "",
        }
        if status == STATUS_CANCELLED:
            item["cancelDate"] = m.cancel_date
        return item

    def _writable(self, body: dict[str, Any]) -> Meeting:
        """The meeting ``body["id"]`` names, after checking ``openid`` is its creator."""
        meeting_id = _required_text(body, "id")
        openid = _required_text(body, "openid")
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise _param(f"id {meeting_id} is unknown")
        if meeting.openid != openid:
            raise _Refusal(NOT_CREATOR_ERROR_CODE, "only the creator may change this meeting")
        return meeting

    def _batch_target(self, body: dict[str, Any]) -> tuple[Meeting, list[Meeting]]:
        """The occurrence ``id`` names and it plus every later one of its series."""
        given = self._writable(body)
        batch = given.batch_id
        if batch is None:
            raise _param(f"id {given.id} is not an occurrence of a repeating meeting")
        batch_id = _text(body, "batchId")
        if not batch_id:
            if given.id != batch:
                raise _param("batchId is required unless id is the series' parent")
        elif batch_id != batch:
            raise _param("batchId is not the parent id of this meeting's series")
        members = self.series(batch)
        at = next(i for i, m in enumerate(members) if m is given)
        return given, members[at:]

    def series(self, batch_id: str) -> list[Meeting]:
        """The occurrences of a series (cancelled ones too), in start order."""
        ids = self._series.get(batch_id, ())
        return sorted((self.meetings[i] for i in ids), key=attrgetter("start_date"))

    def status_of(self, meeting_id: str) -> int:
        """``meetingStatus`` as queryByDay would report it now: 0 open, 1 done, 2 cancelled."""
        status: int = self._info(self.meetings[meeting_id], int(self.clock() * 1000))[
            "meetingStatus"
        ]
        return status

    def _expand(self, start: int, end: int, rule: int, until: int | None) -> list[tuple[int, int]]:
        try:
            return expand_ms(start, end, rule, start if until is None else until, _SERIES_LIMIT)
        except SeriesTooLongError:
            raise _param(f"the series would have more than {_SERIES_LIMIT} occurrences") from None

    def _new_id(self) -> str:
        while True:
            meeting_id = f"{self._random.getrandbits(96):024x}"
            if meeting_id not in self.meetings:
                return meeting_id

    def _add(self, meeting: Meeting) -> None:
        self.meetings[meeting.id] = meeting
        day = shanghai_day(meeting.start_date)
        bucket = self._days.get(day)
        if bucket is None:
            bucket = self._days[day] = {}
        bucket[meeting.id] = None

    def _move(self, meeting: Meeting, start: int, end: int) -> None:
        old_day, new_day = shanghai_day(meeting.start_date), shanghai_day(start)
        meeting.start_date, meeting.end_date = start, end
        if old_day != new_day:
            bucket = self._days[old_day]
            del bucket[meeting.id]
            if not bucket:
                del self._days[old_day]
            self._days.setdefault(new_day, {})[meeting.id] = None

    # --- persistence ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The meetings as a JSON-ready dict (tokens, calls and counters are not included)."""
        return {"format": SNAPSHOT_FORMAT, "meetings": [_row(m) for m in self.meetings.values()]}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any], **kwargs: Any) -> FakeService:
        """A service holding the meetings of ``data``; ``kwargs`` go to the constructor."""
        service = cls(**kwargs)
        service._restore(data)
        return service

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> FakeService:
        """A service holding the meetings saved in ``path``."""
        with open(path, encoding="utf-8") as file:
            return cls.from_snapshot(json.load(file), **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`snapshot` to ``path`` atomically (temp file, fsync, rename).

        Also the way to persist meetings edited by hand when ``persist_path`` is set: the
        write-through after each call re-encodes only the meetings that call changed.
        """
        encoded = {m.id: _encode(m) for m in self.meetings.values()}
        if self.persist_path is not None:
            self._encoded = encoded
        _write_snapshot(os.fspath(path), encoded.values())

    def _persist(self, path: str, touched: list[Meeting]) -> None:
        # New meetings are appended to both dicts, so _encoded keeps the order of meetings.
        for meeting in touched:
            self._encoded[meeting.id] = _encode(meeting)
        _write_snapshot(path, self._encoded.values())

    def _restore(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping) or data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
        try:
            meetings = [Meeting(**record) for record in data["meetings"]]
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed {SNAPSHOT_FORMAT} snapshot: {error}") from None
        self.meetings.clear()
        self._series.clear()
        self._days.clear()
        for meeting in meetings:
            self._add(meeting)
            if meeting.batch_id is not None:
                self._series.setdefault(meeting.batch_id, []).append(meeting.id)
        if self.persist_path is not None:
            self._encoded = {m.id: _encode(m) for m in self.meetings.values()}


def _row(meeting: Meeting) -> dict[str, Any]:
    row = {name: getattr(meeting, name) for name in _MEETING_FIELDS}
    row["actors"] = list(meeting.actors)
    return row


def _encode(meeting: Meeting) -> str:
    return json.dumps(_row(meeting), ensure_ascii=False, separators=(",", ":"))


def _write_snapshot(path: str, meetings: Iterable[str]) -> None:
    """Write a snapshot of already encoded meetings atomically: temp file, fsync, rename."""
    text = f'{{"format":"{SNAPSHOT_FORMAT}","meetings":[{",".join(meetings)}]}}'
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".fake-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
