"""Room bookings: pageRecentList and the ``/api/roomBook/third/`` endpoints (hasNew, bookInfo,
freeRooms, getActors).

A meeting with a ``roomId`` is a booking: its order (``roomOrderId``) is made the first time
the meeting has a room and belongs to it for good. The booking is *live* while the meeting
has a room and is not cancelled, else *deleted* (cancelled, or its room cleared by a modify;
it comes back to life if a later modify names a room again). Every write to the meeting sets
its ``updateTime``. Choices where the later docs are silent or loose:

- "after ``lastTime``" is strictly after: ``updateTime > lastTime``; no ``lastTime``: every
  booking ever made. Bookings are listed in ``updateTime`` order (ties by order id), so a
  poller passes the last ``updateTime`` it saw.
- hasNew is ``true`` exactly when bookInfo with the same ``lastTime`` has an item on page 1.
- bookInfo pages the changed bookings as one list (``pageIndex``/``pageSize``, default 1/50,
  ``pageSize`` over 50 refused as a parameter error naming it), then splits the page into
  ``add`` (live) and ``delete`` (deleted); a page is short when ``add`` + ``delete`` hold
  fewer than ``pageSize`` items. ``delete`` items carry neither ``oid`` nor ``roomId`` (as the
  sample); ``approve`` is the string ``"0"`` (no approval), ``lastTime`` is read as a number or
  a numeric string; ``eid`` is required and must be the access token's workspace when the
  token has one.
- pageRecentList lists the same bookings (``page``/``size``, default 1/10, no documented
  maximum), optionally only those of ``roomIds``; ``approve`` is the int 0, ``batchId`` the
  series id or the meeting's own id, ``batchSize`` the number of occurrences of the series
  (1 for a single meeting), ``parentBatchIds`` empty.
- freeRooms: the catalogue's rooms (``FakeService(rooms=...)``, order kept) minus those with a
  live booking overlapping ``[startTime, endTime)``; ``pageIndex``/``pageSize`` default 1/50.
- getActors: the attendees (``actors``) of the meeting of ``orderId``, deleted or not.
- The room-booking answers, and pageRecentList's, carry ``"error": ""`` as the docs' samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from .calendar import from_ms
from .codes import param
from .fields import oids, page, read_int, required_int, required_text
from .queries import View
from .store import Meeting, MeetingStore

__all__ = [
    "BOOK_INFO_MAX_PAGE_SIZE",
    "apply_book_info",
    "apply_free_rooms",
    "apply_get_actors",
    "apply_has_new",
    "apply_recent",
    "changed_since",
    "parse_book_info",
    "parse_free_rooms",
    "parse_get_actors",
    "parse_has_new",
    "parse_recent",
    "render_book_info",
    "render_free_rooms",
    "render_get_actors",
    "render_recent",
]

BOOK_INFO_MAX_PAGE_SIZE: Final = 50


@attrs.frozen
class Paged:
    """A paged listing's body: the filters and the page."""

    last_time: int | None
    page: int
    size: int
    eid: str | None = None
    room_ids: tuple[str, ...] | None = None

    def cut(self, items: list[Any]) -> list[Any]:
        """This page of ``items``."""
        first = (self.page - 1) * self.size
        return items[first : first + self.size]


@attrs.frozen
class Window:
    """freeRooms' body."""

    open_id: str
    start: int
    end: int
    page: int
    size: int


def changed_since(store: MeetingStore, last_time: int | None) -> list[Meeting]:
    """The bookings changed after ``last_time`` (all when None), in ``updateTime`` order."""
    found = [store.meetings[i] for i in store.orders.values()]
    if last_time is not None:
        found = [m for m in found if m.changed_at > last_time]
    found.sort(key=lambda m: (m.changed_at, m.room_order_id))
    return found


# --- parsers ---------------------------------------------------------------------------------


def parse_has_new(body: Mapping[str, Any]) -> Paged:
    """hasNew: ``eid``, ``lastTime``."""
    return Paged(read_int(body, "lastTime"), 1, 1, required_text(body, "eid"))


def parse_book_info(body: Mapping[str, Any]) -> Paged:
    """bookInfo: ``eid``, ``lastTime``, ``pageIndex``, ``pageSize`` (at most 50)."""
    eid = required_text(body, "eid")
    last = read_int(body, "lastTime")
    number, size = page(body, "pageIndex", "pageSize", 50, BOOK_INFO_MAX_PAGE_SIZE)
    return Paged(last, number, size, eid)


def parse_recent(body: Mapping[str, Any]) -> Paged:
    """pageRecentList: ``lastTime``, ``page``, ``size``, ``roomIds``."""
    last = read_int(body, "lastTime")
    number, size = page(body, "page", "size", 10)
    return Paged(last, number, size, room_ids=oids(body, "roomIds"))


def parse_free_rooms(body: Mapping[str, Any]) -> Window:
    """freeRooms: ``openId``, ``startTime``, ``endTime``, ``pageIndex``, ``pageSize``."""
    open_id = required_text(body, "openId")
    start, end = required_int(body, "startTime"), required_int(body, "endTime")
    if end <= start:
        raise param("endTime must be after startTime")
    number, size = page(body, "pageIndex", "pageSize", 50)
    return Window(open_id, start, end, number, size)


def parse_get_actors(body: Mapping[str, Any]) -> str:
    """getActors: the ``orderId``."""
    return required_text(body, "orderId")


# --- rules -----------------------------------------------------------------------------------


def apply_has_new(store: MeetingStore, _: Any, query: Paged, now: int) -> dict[str, bool]:
    """hasNew."""
    return {"hasNew": bool(changed_since(store, query.last_time))}


def apply_book_info(
    store: MeetingStore, _: Any, query: Paged, now: int
) -> tuple[Paged, list[Meeting]]:
    """bookInfo: one page of the changed bookings."""
    return query, query.cut(changed_since(store, query.last_time))


def apply_recent(store: MeetingStore, _: Any, query: Paged, now: int) -> list[Meeting]:
    """pageRecentList: one page of the changed bookings (of ``roomIds`` when given)."""
    found = changed_since(store, query.last_time)
    if query.room_ids is not None:
        wanted = set(query.room_ids)
        found = [m for m in found if m.booked_room_id in wanted]
    return query.cut(found)


def apply_free_rooms(store: MeetingStore, _: Any, window: Window, now: int) -> list[str]:
    """freeRooms: one page of the ids of the rooms free for the whole window."""
    busy = {
        m.room_id
        for m in store.meetings.values()
        if m.booked and m.start_date < window.end and m.end_date > window.start
    }
    free = [room_id for room_id in store.rooms if room_id not in busy]
    first = (window.page - 1) * window.size
    return free[first : first + window.size]


def apply_get_actors(store: MeetingStore, _: Any, order_id: str, now: int) -> Meeting:
    """getActors."""
    meeting_id = store.orders.get(order_id)
    if meeting_id is None:
        raise param(f"orderId {order_id} is unknown")
    return store.meetings[meeting_id]


# --- rendering -------------------------------------------------------------------------------


def _room(meeting: Meeting, view: View) -> tuple[str | None, str | None]:
    room = view.store.rooms.get(meeting.booked_room_id or "")
    return (None, None) if room is None else (room.room_name, room.room_detail)


def _book_item(meeting: Meeting, eid: str | None, view: View) -> dict[str, Any]:
    name, detail = _room(meeting, view)
    item: dict[str, Any] = {
        "orderId": meeting.room_order_id,
        "oid": meeting.openid,
        "roomId": meeting.booked_room_id,
        "roomName": name,
        "roomDetail": detail,
        "day": from_ms(meeting.start_date).date().isoformat(),
        "userName": view.person_name(meeting.openid),
        "eid": eid,
        "startTime": meeting.start_date,
        "endTime": meeting.end_date,
        "createTime": meeting.create_date,
        "updateTime": meeting.changed_at,
        "meetingTopic": meeting.title,
        "meetingContent": meeting.content,
        "approve": "0",
    }
    if not meeting.booked:
        del item["oid"], item["roomId"]
    return item


def render_book_info(result: tuple[Paged, list[Meeting]], view: View) -> dict[str, Any]:
    """bookInfo: ``add`` and ``delete``."""
    query, meetings = result
    add = [_book_item(m, query.eid, view) for m in meetings if m.booked]
    delete = [_book_item(m, query.eid, view) for m in meetings if not m.booked]
    return {"add": add, "delete": delete}


def render_recent(meetings: list[Meeting], view: View) -> list[dict[str, Any]]:
    """pageRecentList items."""
    items: list[dict[str, Any]] = []
    for meeting in meetings:
        name, detail = _room(meeting, view)
        batch = meeting.batch_id
        items.append(
            {
                "id": meeting.id,
                "oid": meeting.openid,
                "name": view.person_name(meeting.openid),
                "title": meeting.title,
                "content": meeting.content,
                "roomId": meeting.booked_room_id,
                "roomName": name,
                "roomOrderId": meeting.room_order_id,
                "roomDetail": detail,
                "createTime": meeting.create_date,
                "updateTime": meeting.changed_at,
                "approve": 0,
                "startTime": meeting.start_date,
                "endTime": meeting.end_date,
                "deleted": not meeting.booked,
                "batchId": batch if batch is not None else meeting.id,
                "parentBatchIds": [],
                "batchSize": len(view.store.series(batch)) if batch is not None else 1,
            }
        )
    return items


def render_free_rooms(room_ids: list[str], view: View) -> list[dict[str, Any]]:
    """freeRooms items."""
    items = []
    for room_id in room_ids:
        room = view.store.rooms[room_id]
        items.append(
            {
                "note": room.note,
                "roomDetail": room.room_detail,
                "tagId": room.tag_id,
                "limitCount": room.limit_count,
                "approve": room.approve,
                "roomId": room.room_id,
                "roomName": room.room_name,
            }
        )
    return items


def render_get_actors(meeting: Meeting, view: View) -> list[dict[str, Any]]:
    """getActors: ``openId``, ``headerUrl`` (``""``), ``userName``."""
    return [
        {"openId": oid, "headerUrl": "", "userName": view.person_name(oid)}
        for oid in meeting.actors
    ]
