"""The wire side of the fake: the route table, field readers, the envelope and rendering.

Each route maps a path to a parser (JSON body -> a typed command of ``store``), the domain
rule that applies it, and a renderer (typed result -> answer ``data``). Adding an endpoint is
one :class:`Route` in :data:`ROUTES` plus its rule. The fake shares no wire code with the SDK
on purpose: it must catch the SDK's wire mistakes, not repeat them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from .calendar import REPEAT_NONE, REPEAT_RULES
from .codes import SUCCESS_CODE, param
from .store import (
    STATUS_CANCELLED,
    STATUS_DONE,
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
    "RETRY_HEADERS",
    "ROUTES",
    "TOKEN_ENDPOINTS",
    "Route",
    "envelope",
    "find_route",
    "mask",
    "read_int",
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
_INT_RE = re.compile(r"-?[0-9]+")
_MASKED = frozenset(("secret", "refreshToken"))


def envelope(success: bool, code: int, error: str | None, data: Any) -> bytes:
    """The answer body every endpoint sends, refusals included."""
    if data is None and success and code == SUCCESS_CODE and error is None:
        return OK_NULL
    return json.dumps(
        {"success": success, "errorCode": code, "error": error, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def mask(body: dict[str, Any]) -> dict[str, Any]:
    """A token call's body with the secret and the refresh token masked (for the call log)."""
    return {k: "<masked>" if k in _MASKED else v for k, v in body.items()}


# --- field readers: each raises a parameter error naming the field ---------------------------


def read_text(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string."""
    value = body.get(name)
    if value is None or type(value) is str:
        return value
    raise param(f"{name} must be a string")


def required_text(body: Mapping[str, Any], name: str) -> str:
    """A non-empty string."""
    value = body.get(name)
    if value is None or value == "":
        raise param(f"{name} is required")
    if type(value) is not str:
        raise param(f"{name} must be a string")
    return value


def read_int(body: Mapping[str, Any], name: str) -> int | None:
    """An optional integer, also as an integer string; ``""`` counts as missing."""
    value = body.get(name)
    if type(value) is int:
        return value
    if value is None or value == "":
        return None
    if type(value) is str and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise param(f"{name} must be an integer")


def required_int(body: Mapping[str, Any], name: str) -> int:
    """An integer that must be there."""
    value = read_int(body, name)
    if value is None:
        raise param(f"{name} is required")
    return value


def _choice(body: Mapping[str, Any], name: str, allowed: frozenset[int]) -> int | None:
    value = read_int(body, name)
    if value is None or value in allowed:
        return value
    raise param(f"{name} must be one of {sorted(allowed)}, not {value}")


def _flag(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or type(value) is bool:
        return value
    raise param(f"{name} must be true or false")


def _meeting_type(body: Mapping[str, Any]) -> str | None:
    value = body.get("type")
    if value is None:
        return None
    if value in _TYPES:
        return str(value)
    raise param('type must be null, "sign" or "voice"')


def _oids(body: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not list or not all(type(v) is str and v for v in value):
        raise param(f"{name} must be a list of non-empty oid strings")
    return tuple(dict.fromkeys(value))


def _span(body: Mapping[str, Any]) -> tuple[int, int]:
    start = required_int(body, "startDate")
    end = required_int(body, "endDate")
    if end <= start:
        raise param("endDate must be after startDate")
    return start, end


def _repeat(body: Mapping[str, Any], start: int) -> tuple[int, int | None]:
    rule = _choice(body, "repeat", REPEAT_RULES)
    until = read_int(body, "repeatEndDate")
    if rule is None:
        rule = REPEAT_NONE
    if until is None and rule != REPEAT_NONE:
        raise param("repeatEndDate is required when repeat is not 0")
    if until is not None and until < start:
        raise param("repeatEndDate must not be before startDate")
    return rule, until


def _details(body: Mapping[str, Any]) -> Details:
    return Details(
        title=required_text(body, "title"),
        content=read_text(body, "content"),
        notice_time=_choice(body, "noticeTime", _NOTICE_TIMES),
        top_state=_choice(body, "topState", _TOP_STATES),
        submit_experience=_flag(body, "submitExperience"),
    )


def _actor_change(body: Mapping[str, Any]) -> ActorChange:
    actors, add, remove = (_oids(body, k) for k in ("actors", "addActors", "delActors"))
    return ActorChange(actors, add, remove)


# --- parsers: a JSON object -> a typed command -----------------------------------------------


def read_target(body: Mapping[str, Any], series: bool = False) -> Target:
    """The meeting a write names: ``id``, ``openid`` and for a series ``batchId`` if sent."""
    meeting_id = required_text(body, "id")
    openid = required_text(body, "openid")
    batch_id = read_text(body, "batchId") if series else None
    return Target(meeting_id, openid, batch_id or None)


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
        actors=_oids(body, "actors") or (),
        type=_meeting_type(body),
    )


def parse_modify(body: Mapping[str, Any]) -> Change:
    """modify."""
    details = _details(body)
    start, end = _span(body)
    place, room = read_text(body, "meetingPlace"), read_text(body, "roomId")
    return Change(details, start, end, place, room, _actor_change(body))


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
        actors=_oids(body, "actors") or (),
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
    """cancel and batchCancel: nothing beyond the target."""
    return None


# --- rendering: a typed result -> answer data ----------------------------------------------------


def render_info(meeting: Meeting, status: int, person_name: str) -> dict[str, Any]:
    """One queryByDay item."""
    item = {
        "openid": meeting.openid,
        "type": meeting.type,
        "title": meeting.title,
        "content": meeting.content,
        "meetingPlace": meeting.meeting_place,
        "meetingStatus": status,
        "readStatus": 0,
        "acceptStatus": 0,
        "personName": person_name,
        "doneTime": meeting.end_date if status == STATUS_DONE else None,
        "id": meeting.id,
        "noticeTime": meeting.notice_time,
        "startDate": meeting.start_date,
        "endDate": meeting.end_date,
        "createDate": meeting.create_date,
        "roomId": meeting.room_id,
        "roomOrderId": "",
    }
    if status == STATUS_CANCELLED:
        item["cancelDate"] = meeting.cancel_date
    return item


@attrs.frozen
class View:
    """What rendering may know besides the result: the clock and the people directory."""

    store: MeetingStore
    now: int
    people: Mapping[str, str]

    def person_name(self, openid: str) -> str:
        """``people[openid]``, else ``"用户"`` and the openid's last four characters."""
        name = self.people.get(openid)
        return name if name is not None else f"用户{openid[-4:]}"


def _render_day(meetings: list[Meeting], view: View) -> list[dict[str, Any]]:
    return [
        render_info(m, view.store.status(m, view.now), view.person_name(m.openid)) for m in meetings
    ]


# --- domain rules: (store, located meetings, command, now ms) -> result ----------------------

Located = list[Meeting]
"""The meetings a route's target names: the meeting, or an occurrence and every later one."""


def _create(store: MeetingStore, _: Located, command: NewMeeting, now: int) -> Any:
    return {"meetingId": store.create(command, now).id}


def _modify(store: MeetingStore, located: Located, command: Change, now: int) -> None:
    store.modify(located[0], command)


def _cancel(store: MeetingStore, located: Located, command: None, now: int) -> None:
    store.cancel(located, now)


def _repeat_meeting(store: MeetingStore, _: Located, command: NewSeries, now: int) -> Any:
    return {"meetingIds": [m.id for m in store.repeat(command, now)]}


def _batch_modify(store: MeetingStore, located: Located, command: SeriesChange, now: int) -> None:
    store.batch_modify(located, command, now)


def _query_by_day(store: MeetingStore, _: Located, day: int, now: int) -> list[Meeting]:
    return store.on_day(day)


def _as_is(result: Any, view: View) -> Any:
    return result


# --- the route table -----------------------------------------------------------------------------

MEETING_PREFIX: Final = "/gateway/cloudwork/meeting/"
TOKEN_PREFIX: Final = "/gateway/oauth2/token/"


@attrs.frozen
class Route:
    """One endpoint: its name, how to read its body, its rule and how to render the result.

    ``token``: a token endpoint (no accessToken, no rate limit; ``tokens`` answers it).
    ``target``: the write names a ``"meeting"`` (id + openid: the creator's) or an occurrence
    and the rest of its ``"series"``; resolved before the other fields are read. ``writes``:
    the rule may change meetings (it runs under the persistence write lock).
    """

    name: str
    path: str
    parse: Callable[[Mapping[str, Any]], Any] = parse_nothing
    apply: Callable[[MeetingStore, Located, Any, int], Any] | None = None
    render: Callable[[Any, View], Any] = _as_is
    target: Literal["meeting", "series"] | None = None
    writes: bool = False
    token: bool = False


def _meeting(name: str, **kwargs: Any) -> Route:
    return Route(name, MEETING_PREFIX + name, **kwargs)


def _token(name: str) -> Route:
    return Route(name, TOKEN_PREFIX + name, token=True)


ROUTES: Final[Mapping[str, Route]] = MappingProxyType(
    {
        route.path: route
        for route in (
            _meeting("create", parse=parse_create, apply=_create, writes=True),
            _meeting("modify", parse=parse_modify, apply=_modify, target="meeting", writes=True),
            _meeting("cancel", apply=_cancel, target="meeting", writes=True),
            _meeting(
                "repeatMeeting", parse=parse_repeat_meeting, apply=_repeat_meeting, writes=True
            ),
            _meeting(
                "batchModify",
                parse=parse_batch_modify,
                apply=_batch_modify,
                target="series",
                writes=True,
            ),
            _meeting("batchCancel", apply=_cancel, target="series", writes=True),
            _meeting("queryByDay", parse=parse_day, apply=_query_by_day, render=_render_day),
            _token("getAccessToken"),
            _token("refreshToken"),
        )
    }
)
"""Every path the fake serves, to its route."""

TOKEN_ENDPOINTS: Final = frozenset(r.name for r in ROUTES.values() if r.token)


def find_route(path: str) -> Route | None:
    """The route of ``path``; a prefix before ``/gateway/`` (a reverse proxy) is ignored."""
    route = ROUTES.get(path)
    if route is None:
        cut = path.find("/gateway/")
        if cut > 0:
            route = ROUTES.get(path[cut:])
    return route


def locate(store: MeetingStore, route: Route, body: Mapping[str, Any]) -> Located:
    """The meetings the write ``route`` names in ``body`` (none for other routes)."""
    if route.target is None:
        return []
    if route.target == "meeting":
        return [store.writable(read_target(body))]
    return store.series_from(read_target(body, series=True))
