"""The meeting reads: queryByDay, queryByRange, detail, queryByUser and getAttendDetail.

Parsers, rules and renderers for ``wire``'s route table, plus :class:`View` (what rendering may
know). Choices where the later docs are silent or loose:

- queryByRange: the meetings *starting* from ``start`` to ``end``, both included (so a range of
  one Shanghai day is exactly that day's queryByDay), in the same order, with the same items;
  ``end`` before ``start`` is refused.
- queryByDay/queryByRange items keep the documented ``noticeTime`` int (the first of
  ``noticeTimes`` when the meeting was given a list) and then also carry ``noticeTimes``;
  a cancelled one carries ``cancelDate`` and, when a reason was given, ``cancelReason``.
- detail answers exactly the documented fields, plus ``shareIds``. ``status`` is as documented
  for detail: 0 open, 1 done *or cancelled* (``cancelTime`` tells them apart: 0 unless
  cancelled). ``organizers`` are the ``meetOrganizers`` given (none: an empty list),
  ``participants`` the attendees (``actors``), ``joinStatus`` their answer (see
  ``FakeService.respond``; 0 when none) or 4 once the meeting is cancelled. ``eid`` is the
  workspace of the access token used (``null`` for an ``app`` token). ``repeat``,
  ``repeatEndDate`` and ``cancelTime`` are 0 when unset, as in the docs' sample; ``photoUrl``
  is ``""``, ``recordInfo`` ``null``, ``images``/``files`` empty.
- queryByUser: the meetings the user created, attends, organises or is the agent of, in start
  order (ties by id); ``status`` (``null``: all) filters on ``workStatus``, which is
  queryByDay's ``meetingStatus`` (2 for a cancelled meeting). No maximum ``pageSize`` is
  documented, so none is enforced. As in the docs' sample, the envelope has no ``error``.
- getAttendDetail: one record per attendee, in attendee order: a list (the docs' sample shows
  one record as a bare object). The envelope is the documented ``errorCode: 200``,
  ``"error": "正确访问"``. Fields the fake knows nothing of (work number, mobile,
  department, company) are ``"--"``; ``attendTime`` is ``"YYYY-MM-DD HH:MM:SS"`` (Shanghai)
  after ``FakeService.check_in``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from .calendar import from_ms
from .codes import param
from .fields import page, read_int, required_int, required_text
from .store import STATUS_CANCELLED, STATUS_DONE, Meeting, MeetingStore, derived_id

__all__ = [
    "ACCEPT_LABELS",
    "ByUser",
    "View",
    "apply_attend",
    "apply_by_user",
    "apply_day",
    "apply_detail",
    "apply_range",
    "parse_attend",
    "parse_by_user",
    "parse_detail",
    "parse_range",
    "render_attend",
    "render_by_user",
    "render_detail",
    "render_info",
    "render_infos",
]

ACCEPT_LABELS: Final = {0: "未响应", 1: "不参与", 2: "参与", 3: "委托参与"}
_UNKNOWN: Final = "--"
_JOIN_CANCELLED: Final = 4
_WORK_STATUSES: Final = frozenset((0, 1, 2))


@attrs.frozen
class View:
    """What rendering may know besides the result: the store, the clock (epoch ms), the people
    directory and the workspace (eid) of the access token of the call (None: unknown)."""

    store: MeetingStore
    now: int
    people: Mapping[str, str]
    eid: str | None = None

    def person_name(self, openid: str) -> str:
        """``people[openid]``, else ``"用户"`` and the openid's last four characters."""
        name = self.people.get(openid)
        return name if name is not None else f"用户{openid[-4:]}"

    def status(self, meeting: Meeting) -> int:
        """queryByDay's ``meetingStatus`` now: 0 open, 1 done, 2 cancelled."""
        return self.store.status(meeting, self.now)


def _notice_times(meeting: Meeting) -> list[int]:
    if meeting.notice_times is not None:
        return list(meeting.notice_times)
    return [] if meeting.notice_time is None else [meeting.notice_time]


# --- queryByDay / queryByRange ---------------------------------------------------------------


def render_info(meeting: Meeting, view: View) -> dict[str, Any]:
    """One queryByDay (and queryByRange) item."""
    status = view.status(meeting)
    notice = meeting.notice_time
    if notice is None and meeting.notice_times:
        notice = meeting.notice_times[0]
    item: dict[str, Any] = {
        "openid": meeting.openid,
        "type": meeting.type,
        "title": meeting.title,
        "content": meeting.content,
        "meetingPlace": meeting.meeting_place,
        "meetingStatus": status,
        "readStatus": 0,
        "acceptStatus": 0,
        "personName": view.person_name(meeting.openid),
        "doneTime": meeting.end_date if status == STATUS_DONE else None,
        "id": meeting.id,
        "noticeTime": notice,
        "startDate": meeting.start_date,
        "endDate": meeting.end_date,
        "createDate": meeting.create_date,
        "roomId": meeting.room_id,
        "roomOrderId": meeting.room_order_id if meeting.room_id is not None else "",
    }
    if meeting.notice_times is not None:
        item["noticeTimes"] = list(meeting.notice_times)
    if status == STATUS_CANCELLED:
        item["cancelDate"] = meeting.cancel_date
        if meeting.cancel_reason is not None:
            item["cancelReason"] = meeting.cancel_reason
    return item


def render_infos(meetings: list[Meeting], view: View) -> list[dict[str, Any]]:
    """queryByDay and queryByRange."""
    return [render_info(m, view) for m in meetings]


def apply_day(store: MeetingStore, _: Any, day: int, now: int) -> list[Meeting]:
    """queryByDay."""
    return store.on_day(day)


def parse_range(body: Mapping[str, Any]) -> tuple[int, int]:
    """queryByRange: ``start`` and ``end``, epoch ms, ``end`` not before ``start``."""
    start, end = required_int(body, "start"), required_int(body, "end")
    if end < start:
        raise param("end must not be before start")
    return start, end


def apply_range(store: MeetingStore, _: Any, span: tuple[int, int], now: int) -> list[Meeting]:
    """queryByRange."""
    return store.in_range(*span)


# --- detail --------------------------------------------------------------------------------------


def parse_detail(body: Mapping[str, Any]) -> str:
    """detail: the meeting ``id``."""
    return required_text(body, "id")


def apply_detail(store: MeetingStore, _: Any, meeting_id: str, now: int) -> Meeting:
    """detail."""
    return store.get(meeting_id)


def _person(kind: str, meeting: Meeting, openid: str, view: View) -> dict[str, Any]:
    return {
        "id": derived_id(kind, meeting.id, openid),
        "eid": view.eid,
        "openid": openid,
        "personName": view.person_name(openid),
        "photoUrl": "",
    }


def render_detail(meeting: Meeting, view: View) -> dict[str, Any]:
    """detail: the documented fields (and ``shareIds``)."""
    cancelled = meeting.status == STATUS_CANCELLED
    status = 1 if cancelled or view.status(meeting) == STATUS_DONE else 0
    notices = _notice_times(meeting)
    participants = []
    for oid in meeting.actors:
        person = _person("participant", meeting, oid, view)
        join = _JOIN_CANCELLED if cancelled else meeting.responses.get(oid, 0)
        person.update(
            noticeTimes=notices,
            readStatus=0,
            status=status,
            joinStatus=join,
            joinDate=None,
            mandataryOid="",
            clientOid="",
        )
        participants.append(person)
    organizers = [_person("organizer", meeting, o, view) for o in meeting.meet_organizers or ()]
    return {
        "id": meeting.id,
        "eid": view.eid,
        "openid": meeting.openid,
        "personName": view.person_name(meeting.openid),
        "photoUrl": "",
        "title": meeting.title,
        "content": meeting.content,
        "meetingPlace": meeting.meeting_place,
        "startDate": meeting.start_date,
        "endDate": meeting.end_date,
        "createDate": meeting.create_date,
        "status": status,
        "submitExperience": meeting.submit_experience,
        "organizers": organizers,
        "participants": participants,
        "images": [],
        "files": [],
        "cancelTime": meeting.cancel_date if cancelled and meeting.cancel_date else 0,
        "cancelReason": meeting.cancel_reason,
        "roomId": meeting.room_id,
        "roomOrderId": meeting.room_order_id if meeting.room_id is not None else "",
        "noticeTimes": notices,
        "repeat": meeting.repeat or 0,
        "repeatEndDate": meeting.repeat_end_date or 0,
        "batchId": meeting.batch_id,
        "encryption": bool(meeting.encryption),
        "recordInfo": None,
        "agent": meeting.agent,
        "shareIds": list(meeting.share_ids or ()),
    }


# --- queryByUser -----------------------------------------------------------------------------


@attrs.frozen
class ByUser:
    """queryByUser's body."""

    open_id: str
    status: int | None
    page: int
    size: int


def parse_by_user(body: Mapping[str, Any]) -> ByUser:
    """queryByUser: ``openId``, ``status`` (null: all), ``pageNum`` and ``pageSize``."""
    open_id = required_text(body, "openId")
    status = read_int(body, "status")
    if status is not None and status not in _WORK_STATUSES:
        raise param(f"status must be null or one of {sorted(_WORK_STATUSES)}, not {status}")
    number, size = page(body, "pageNum", "pageSize", 20)
    return ByUser(open_id, status, number, size)


def apply_by_user(
    store: MeetingStore, _: Any, query: ByUser, now: int
) -> tuple[ByUser, list[Meeting]]:
    """queryByUser: one page of the user's meetings."""
    mine = store.of_user(query.open_id)
    if query.status is not None:
        mine = [m for m in mine if store.status(m, now) == query.status]
    first = (query.page - 1) * query.size
    return query, mine[first : first + query.size]


def render_by_user(result: tuple[ByUser, list[Meeting]], view: View) -> list[dict[str, Any]]:
    """queryByUser items."""
    query, meetings = result
    items = []
    for meeting in meetings:
        status = view.status(meeting)
        done = meeting.end_date if status == STATUS_DONE else None
        items.append(
            {
                "cancelTime": meeting.cancel_date if status == STATUS_CANCELLED else 0,
                "content": meeting.content,
                "createDate": meeting.create_date,
                "currentActor": {
                    "doneTime": done,
                    "openId": query.open_id,
                    "workSource": "1",
                    "workStatus": status,
                },
                "doneTime": done,
                "endDate": meeting.end_date,
                "id": meeting.id,
                "openId": meeting.openid,
                "personName": view.person_name(meeting.openid),
                "record": False,
                "startDate": meeting.start_date,
                "title": meeting.title,
                "workStatus": status,
                "agent": meeting.agent,
            }
        )
    return items


# --- getAttendDetail -----------------------------------------------------------------------------


def parse_attend(body: Mapping[str, Any]) -> str:
    """getAttendDetail: the ``meetingId``."""
    return required_text(body, "meetingId")


def apply_attend(store: MeetingStore, _: Any, meeting_id: str, now: int) -> Meeting:
    """getAttendDetail."""
    return store.get(meeting_id, "meetingId")


def render_attend(meeting: Meeting, view: View) -> list[dict[str, Any]]:
    """getAttendDetail: one record per attendee."""
    records = []
    for oid in meeting.actors:
        checked = meeting.check_ins.get(oid)
        when = _UNKNOWN if checked is None else from_ms(checked).strftime("%Y-%m-%d %H:%M:%S")
        records.append(
            {
                "workNo": _UNKNOWN,
                "attendTime": when,
                "attendStatus": "未签到" if checked is None else "已签到",
                "companyName": _UNKNOWN,
                "mobile": _UNKNOWN,
                "departmentLoneName": _UNKNOWN,
                "acceptStatus": ACCEPT_LABELS[meeting.responses.get(oid, 0)],
                "department": _UNKNOWN,
                "userName": view.person_name(oid),
            }
        )
    return records
