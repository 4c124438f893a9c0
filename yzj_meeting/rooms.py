"""Models of the room-booking endpoints (``/api/roomBook/third/...``) and of the bookings that
``meeting/pageRecentList`` and ``bookInfo`` list.

The room-booking endpoints take the same ``resGroupSecret`` token as the meeting endpoints, but
the 会议助手 authorisation code (not 时间助手's) and a different path prefix.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

import attrs

from .details import PagingFields, check_window, optional_instant, page_size_at_most
from .errors import ValidationError
from .models import _instant, _text

__all__ = [
    "MAX_BOOK_INFO_PAGE_SIZE",
    "ApproveStatus",
    "BookInfo",
    "Booking",
    "BookingChanges",
    "FreeRooms",
    "GetActors",
    "HasNewBookings",
    "Room",
    "RoomActor",
]

MAX_BOOK_INFO_PAGE_SIZE = 50
"""``bookInfo``'s documented maximum ``pageSize`` (also its default), applied to ``freeRooms``
too: a size above what the server serves would make every page look short to the pager."""


class ApproveStatus(enum.IntEnum):
    """Approval state of a room booking (sent as ``0`` or ``"0"``)."""

    NOT_REQUIRED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3


def _page_index(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if type(value) is not int or value < 1:
        raise ValidationError(attribute.name, f"must be an integer >= 1, got {value!r}")


# --- request models ---


@attrs.frozen
class HasNewBookings:
    """Body of ``hasNew``: whether workspace ``eid`` has bookings added or changed after
    ``last_time`` (any booking at all when ``None``)."""

    eid: str = attrs.field(default=None, validator=_text)
    last_time: datetime | None = attrs.field(default=None, validator=optional_instant)


@attrs.frozen
class BookInfo:
    """Body of ``bookInfo``: one page of the bookings of ``eid`` added or changed after
    ``last_time`` (all when ``None``); ``page_size`` is at most 50."""

    paging: ClassVar[PagingFields] = PagingFields("page_index", "page_size")

    eid: str = attrs.field(default=None, validator=_text)
    last_time: datetime | None = attrs.field(default=None, validator=optional_instant)
    page_index: int = attrs.field(default=1, kw_only=True, validator=_page_index)
    page_size: int = attrs.field(
        default=MAX_BOOK_INFO_PAGE_SIZE,
        kw_only=True,
        validator=page_size_at_most(MAX_BOOK_INFO_PAGE_SIZE),
    )


@attrs.frozen
class FreeRooms:
    """Body of ``freeRooms``: one page of the rooms free between ``start`` and ``end`` that
    ``open_id`` may book; ``page_size`` is at most 50. On the wire ``start`` and ``end`` are
    ``startTime`` and ``endTime``."""

    paging: ClassVar[PagingFields] = PagingFields("page_index", "page_size")

    open_id: str = attrs.field(default=None, validator=_text)
    start: datetime = attrs.field(default=None, validator=_instant, metadata={"wire": "startTime"})
    end: datetime = attrs.field(default=None, validator=_instant, metadata={"wire": "endTime"})
    page_index: int = attrs.field(default=1, kw_only=True, validator=_page_index)
    page_size: int = attrs.field(
        default=MAX_BOOK_INFO_PAGE_SIZE,
        kw_only=True,
        validator=page_size_at_most(MAX_BOOK_INFO_PAGE_SIZE),
    )

    def __attrs_post_init__(self) -> None:
        check_window(self.start, self.end, start_name="start", end_name="end")


@attrs.frozen
class GetActors:
    """Body of ``getActors``: the attendees of room booking ``order_id``."""

    order_id: str = attrs.field(default=None, validator=_text)


# --- answer models ---


@attrs.frozen
class Booking:
    """A room booking, as ``pageRecentList`` or ``bookInfo`` lists it.

    The two listings word it differently; both are read into the same fields: ``room_order_id``
    (``roomOrderId``/``orderId``), ``title`` (``title``/``meetingTopic``), ``content``
    (``content``/``meetingContent``), ``name`` (``name``/``userName``, who booked). ``id`` is
    the meeting's id (``pageRecentList`` only); ``day`` the ``YYYY-MM-DD`` text of ``bookInfo``.
    A booking with neither ``id`` nor ``room_order_id`` is not read.
    """

    id: str | None = None
    room_order_id: str | None = attrs.field(
        default=None, metadata={"wire": ("roomOrderId", "orderId")}
    )
    oid: str | None = None
    name: str | None = attrs.field(default=None, metadata={"wire": ("name", "userName")})
    eid: str | None = None
    title: str | None = attrs.field(default=None, metadata={"wire": ("title", "meetingTopic")})
    content: str | None = attrs.field(
        default=None, metadata={"wire": ("content", "meetingContent")}
    )
    room_id: str | None = None
    room_name: str | None = None
    room_detail: str | None = None
    day: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    approve: ApproveStatus | int | None = None
    deleted: bool | None = None
    batch_id: str | None = None
    parent_batch_ids: tuple[str, ...] = ()
    batch_size: int | None = None


@attrs.frozen
class BookingChanges:
    """One page of ``bookInfo``: bookings added or changed (``add``) and removed (``delete``).

    ``received`` counts the items the server sent in both lists (unreadable ones included),
    which is what decides whether the page was full.
    """

    add: tuple[Booking, ...] = ()
    delete: tuple[Booking, ...] = ()
    received: int = attrs.field(default=0, eq=False, repr=False)


@attrs.frozen
class Room:
    """A free meeting room, as ``freeRooms`` lists it. ``approve``: booking it needs approval;
    ``limit_count``: its capacity; ``room_detail``: where it is."""

    room_id: str
    room_name: str | None = None
    room_detail: str | None = None
    note: str | None = None
    tag_id: str | None = None
    limit_count: int | None = None
    approve: bool | None = None


@attrs.frozen
class RoomActor:
    """An attendee of a room booking, as ``getActors`` lists them."""

    open_id: str = attrs.field(metadata={"wire": ("openId", "openid")})
    user_name: str | None = None
    header_url: str | None = None
