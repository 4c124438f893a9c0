"""The wire side of the fake: the route table, the envelope and the write parsers.

Each route maps a path to a parser (JSON body -> a typed command of ``store``), the domain
rule that applies it, and a renderer (typed result -> answer ``data``). Adding an endpoint is
one :class:`Route` in :data:`ROUTES` plus its rule; the reads live in ``queries`` and
``bookings``, the field readers in ``fields``. The fake shares no wire code with the SDK
on purpose: it must catch the SDK's wire mistakes, not repeat them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from . import bookings as b
from . import queries as q
from .calendar import REPEAT_NONE, REPEAT_RULES
from .codes import SUCCESS_CODE, param
from .fields import (
    choice,
    flag,
    int_list,
    oids,
    read_int,
    read_text,
    required_int,
    required_text,
)
from .queries import View
from .store import (
    ActorChange,
    Change,
    Details,
    Meeting,
    MeetingStore,
    NewMeeting,
    NewSeries,
    SeriesChange,
    Target,
)

__all__ = [
    "ALLOW_HEADERS",
    "JSON_HEADERS",
    "NO_HEADERS",
    "OK_NULL",
    "OMIT",
    "RETRY_HEADERS",
    "ROUTES",
    "TOKEN_ENDPOINTS",
    "Route",
    "View",
    "envelope",
    "find_route",
    "mask",
    "read_int",
    "read_text",
    "required_int",
    "required_text",
]

JSON_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"content-type": "application/json;charset=UTF-8"}
)
RETRY_HEADERS: Final[Mapping[str, str]] = MappingProxyType({**JSON_HEADERS, "retry-after": "1"})
ALLOW_HEADERS: Final[Mapping[str, str]] = MappingProxyType({**JSON_HEADERS, "allow": "POST"})
NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
OK_NULL: Final = b'{"success":true,"errorCode":0,"error":null,"data":null}'

_NOTICE_TIMES = frozenset((-1, 0, 15, 60))
_TOP_STATES = frozenset((0, 1))
_TYPES = frozenset(("sign", "voice"))
_MASKED = frozenset(("secret", "refreshToken"))
OMIT: Final = object()
"""``Route.ok_error``: the success envelope has no ``error`` key (as queryByUser's sample)."""


def envelope(success: bool, code: int, error: str | object | None, data: Any) -> bytes:
    """The answer body every endpoint sends, refusals included (``error=OMIT``: no ``error``)."""
    if data is None and success and code == SUCCESS_CODE and error is None:
        return OK_NULL
    answer = {"success": success, "errorCode": code, "error": error, "data": data}
    if error is OMIT:
        del answer["error"]
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def mask(body: dict[str, Any]) -> dict[str, Any]:
    """A token call's body with the secret and the refresh token masked (for the call log)."""
    return {k: "<masked>" if k in _MASKED else v for k, v in body.items()}


# --- field readers (``fields``) and the fields of create/modify -------------------------------


def _meeting_type(body: Mapping[str, Any]) -> str | None:
    value = body.get("type")
    if value is None:
        return None
    if value in _TYPES:
        return str(value)
    raise param('type must be null, "sign" or "voice"')


def _span(body: Mapping[str, Any]) -> tuple[int, int]:
    start = required_int(body, "startDate")
    end = required_int(body, "endDate")
    if end <= start:
        raise param("endDate must be after startDate")
    return start, end


def _repeat(body: Mapping[str, Any], start: int) -> tuple[int, int | None]:
    rule = choice(body, "repeat", REPEAT_RULES)
    until = read_int(body, "repeatEndDate")
    if rule is None:
        rule = REPEAT_NONE
    if until is None and rule != REPEAT_NONE:
        raise param("repeatEndDate is required when repeat is not 0")
    if until is not None and until < start:
        raise param("repeatEndDate must not be before startDate")
    return rule, until


def _details(body: Mapping[str, Any]) -> Details:
    notice_times = int_list(body, "noticeTimes", -1)
    if notice_times is not None and body.get("noticeTime") is not None:
        raise param("noticeTime and noticeTimes are exclusive: send one of them")
    return Details(
        title=required_text(body, "title"),
        content=read_text(body, "content"),
        notice_time=choice(body, "noticeTime", _NOTICE_TIMES),
        top_state=choice(body, "topState", _TOP_STATES),
        submit_experience=flag(body, "submitExperience"),
        notice_times=notice_times,
        meet_organizers=oids(body, "meetOrganizers"),
        encryption=flag(body, "encryption"),
        share_ids=oids(body, "shareIds"),
    )


def _actor_change(body: Mapping[str, Any]) -> ActorChange:
    actors, add, remove = (oids(body, k) for k in ("actors", "addActors", "delActors"))
    return ActorChange(actors, add, remove)


# --- parsers: a JSON object -> a typed command -----------------------------------------------


def read_target(body: Mapping[str, Any], series: bool = False, agent: bool = False) -> Target:
    """The meeting a write names: ``id``, ``openid`` and for a series ``batchId`` if sent;
    ``agent``: the meeting's agent may write it too."""
    meeting_id = required_text(body, "id")
    openid = required_text(body, "openid")
    batch_id = read_text(body, "batchId") if series else None
    return Target(meeting_id, openid, batch_id or None, agent)


def parse_create(body: Mapping[str, Any]) -> NewMeeting:
    """create."""
    details = _details(body)
    start, end = _span(body)
    return NewMeeting(
        openid=required_text(body, "openid"),
        details=details,
        start=start,
        end=end,
        place=read_text(body, "meetingPlace"),
        room=read_text(body, "roomId"),
        actors=oids(body, "actors") or (),
        type=_meeting_type(body),
        agent=read_text(body, "agent") or None,
    )


def parse_modify(body: Mapping[str, Any]) -> Change:
    """modify."""
    details = _details(body)
    start, end = _span(body)
    place, room = read_text(body, "meetingPlace"), read_text(body, "roomId")
    agent = read_text(body, "agent") or None
    return Change(details, start, end, place, room, _actor_change(body), agent)


def parse_repeat_meeting(body: Mapping[str, Any]) -> NewSeries:
    """repeatMeeting."""
    openid = required_text(body, "openid")
    details = _details(body)
    start, end = _span(body)
    rule, until = _repeat(body, start)
    return NewSeries(
        openid=openid,
        details=details,
        start=start,
        end=end,
        rule=rule,
        until=until,
        place=read_text(body, "meetingPlace"),
        room=read_text(body, "roomId"),
        type=_meeting_type(body),
        actors=oids(body, "actors") or (),
        agent=read_text(body, "agent") or None,
    )


def parse_batch_modify(body: Mapping[str, Any]) -> SeriesChange:
    """batchModify."""
    details = _details(body)
    start, end = _span(body)
    rule, until = _repeat(body, start)
    actors = _actor_change(body)
    sent = frozenset(k for k in ("meetingPlace", "roomId") if k in body)
    place, room = read_text(body, "meetingPlace"), read_text(body, "roomId")
    return SeriesChange(details, start, end, rule, until, actors, place, room, sent)


def parse_day(body: Mapping[str, Any]) -> int:
    """queryByDay: the instant whose day is asked for."""
    return required_int(body, "day")


def parse_nothing(body: Mapping[str, Any]) -> None:
    """Nothing beyond the target."""
    return None


def parse_cancel(body: Mapping[str, Any]) -> str | None:
    """cancel and batchCancel: the optional ``cancelReason`` (detail shows it)."""
    return read_text(body, "cancelReason") or None


# --- domain rules: (store, located meetings, command, now ms) -> result ----------------------

Located = list[Meeting]
"""The meetings a route's target names: the meeting, or an occurrence and every later one."""


def _create(store: MeetingStore, _: Located, command: NewMeeting, now: int) -> Any:
    return {"meetingId": store.create(command, now).id}


def _modify(store: MeetingStore, located: Located, command: Change, now: int) -> None:
    store.modify(located[0], command, now)


def _cancel(store: MeetingStore, located: Located, reason: str | None, now: int) -> None:
    store.cancel(located, now, reason)


def _repeat_meeting(store: MeetingStore, _: Located, command: NewSeries, now: int) -> Any:
    return {"meetingIds": [m.id for m in store.repeat(command, now)]}


def _batch_modify(store: MeetingStore, located: Located, command: SeriesChange, now: int) -> None:
    store.batch_modify(located, command, now)


def _as_is(result: Any, view: View) -> Any:
    return result


# --- the route table -----------------------------------------------------------------------------

MEETING_PREFIX: Final = "/gateway/cloudwork/meeting/"
TOKEN_PREFIX: Final = "/gateway/oauth2/token/"
ROOM_BOOK_PREFIX: Final = "/api/roomBook/third/"
_ROOTS: Final = ("/gateway/", "/api/roomBook/")
ATTEND_OK_CODE: Final = 200
ATTEND_OK_ERROR: Final = "正确访问"


@attrs.frozen
class Route:
    """One endpoint: its name, how to read its body, its rule and how to render the result.

    ``token``: a token endpoint (no accessToken, no rate limit; ``tokens`` answers it).
    ``target``: the write names a ``"meeting"`` (id + openid: the creator's, or with
    ``agent_may`` the meeting's agent's) or an occurrence and the rest of its ``"series"``;
    resolved before the other fields are read. ``writes``: the rule may change meetings (it
    runs under the persistence write lock). ``ok_code``/``ok_error``: the ``errorCode`` and
    ``error`` of a success (``OMIT``: no ``error`` key). ``eid_checked``: the body's ``eid``
    must be the access token's workspace (when the token has one).
    """

    name: str
    path: str
    parse: Callable[[Mapping[str, Any]], Any] = parse_nothing
    apply: Callable[[MeetingStore, Located, Any, int], Any] | None = None
    render: Callable[[Any, View], Any] = _as_is
    target: Literal["meeting", "series"] | None = None
    agent_may: bool = False
    writes: bool = False
    token: bool = False
    ok_code: int = SUCCESS_CODE
    ok_error: str | object | None = None
    eid_checked: bool = False


def _meeting(name: str, **kwargs: Any) -> Route:
    return Route(name, MEETING_PREFIX + name, **kwargs)


def _room_book(name: str, **kwargs: Any) -> Route:
    return Route(name, ROOM_BOOK_PREFIX + name, ok_error="", **kwargs)


def _token(name: str) -> Route:
    return Route(name, TOKEN_PREFIX + name, token=True)


ROUTES: Final[Mapping[str, Route]] = MappingProxyType(
    {
        route.path: route
        for route in (
            _meeting("create", parse=parse_create, apply=_create, writes=True),
            _meeting(
                "modify",
                parse=parse_modify,
                apply=_modify,
                target="meeting",
                agent_may=True,
                writes=True,
            ),
            _meeting("cancel", parse=parse_cancel, apply=_cancel, target="meeting", writes=True),
            _meeting(
                "repeatMeeting", parse=parse_repeat_meeting, apply=_repeat_meeting, writes=True
            ),
            _meeting(
                "batchModify",
                parse=parse_batch_modify,
                apply=_batch_modify,
                target="series",
                agent_may=True,
                writes=True,
            ),
            _meeting(
                "batchCancel", parse=parse_cancel, apply=_cancel, target="series", writes=True
            ),
            _meeting("queryByDay", parse=parse_day, apply=q.apply_day, render=q.render_infos),
            _meeting(
                "queryByRange", parse=q.parse_range, apply=q.apply_range, render=q.render_infos
            ),
            _meeting("detail", parse=q.parse_detail, apply=q.apply_detail, render=q.render_detail),
            _meeting(
                "queryByUser",
                parse=q.parse_by_user,
                apply=q.apply_by_user,
                render=q.render_by_user,
                ok_error=OMIT,
            ),
            _meeting(
                "getAttendDetail",
                parse=q.parse_attend,
                apply=q.apply_attend,
                render=q.render_attend,
                ok_code=ATTEND_OK_CODE,
                ok_error=ATTEND_OK_ERROR,
            ),
            _meeting(
                "pageRecentList",
                parse=b.parse_recent,
                apply=b.apply_recent,
                render=b.render_recent,
                ok_error="",
            ),
            _room_book("hasNew", parse=b.parse_has_new, apply=b.apply_has_new, eid_checked=True),
            _room_book(
                "bookInfo",
                parse=b.parse_book_info,
                apply=b.apply_book_info,
                render=b.render_book_info,
                eid_checked=True,
            ),
            _room_book(
                "freeRooms",
                parse=b.parse_free_rooms,
                apply=b.apply_free_rooms,
                render=b.render_free_rooms,
            ),
            _room_book(
                "getActors",
                parse=b.parse_get_actors,
                apply=b.apply_get_actors,
                render=b.render_get_actors,
            ),
            _token("getAccessToken"),
            _token("refreshToken"),
        )
    }
)
"""Every path the fake serves, to its route."""

TOKEN_ENDPOINTS: Final = frozenset(r.name for r in ROUTES.values() if r.token)


def find_route(path: str) -> Route | None:
    """The route of ``path``; a prefix before ``/gateway/`` or ``/api/roomBook/`` (a reverse
    proxy) is ignored."""
    route = ROUTES.get(path)
    if route is None:
        for root in _ROOTS:
            cut = path.find(root)
            if cut > 0:
                return ROUTES.get(path[cut:])
    return route


def locate(store: MeetingStore, route: Route, body: Mapping[str, Any]) -> Located:
    """The meetings the write ``route`` names in ``body`` (none for other routes)."""
    if route.target is None:
        return []
    if route.target == "meeting":
        return [store.writable(read_target(body, agent=route.agent_may))]
    return store.series_from(read_target(body, series=True, agent=route.agent_may))
