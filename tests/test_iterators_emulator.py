"""Every paged iterator against the emulator, both ways in (FakeTransport and AiohttpTransport
to the emulator over HTTP): at least three pages, one of them throttled once (the client
waits and resends it), a short last page, every parameter kept between pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from yzj_meeting import BookInfo, FreeRooms, MeetingClient, PageRecentList, QueryByUser
from yzj_meeting.fake import FakeService
from yzj_meeting.fake.rooms import Room

from .test_emulator import CREATOR, DAY, Factory, at, connect, meeting

__all__ = ["connect"]

EID = "eid-1"
ROOMS = [Room(f"r{n}", f"Room {n}") for n in range(7)]
PAGE = 2  # 7 items: pages of 2, 2, 2, then a short page of 1


async def _listing(service: FakeService, client: MeetingClient) -> list[str]:
    """Seven meetings on seven days, each booking its own room, all attended by a1."""
    return [
        await client.create_meeting(
            meeting(f"m{n}", day=DAY + timedelta(days=n), actors=["a1"], room_id=f"r{n}")
        )
        for n in range(7)
    ]


def _by_user(client: MeetingClient) -> AsyncIterator[Any]:
    return client.iter_by_user(QueryByUser("a1", page_size=PAGE))


def _recent(client: MeetingClient) -> AsyncIterator[Any]:
    return client.iter_recent(PageRecentList(size=PAGE, room_ids=[r.room_id for r in ROOMS]))


async def _book_info(client: MeetingClient) -> AsyncIterator[Any]:
    async for page in client.iter_book_info(BookInfo(EID, page_size=PAGE)):
        for booking in page.add:
            yield booking


def _free_rooms(client: MeetingClient) -> AsyncIterator[Any]:
    # A window on a day with no meeting: every room is free.
    start = at(DAY - timedelta(days=3), 10)
    return client.iter_free_rooms(
        FreeRooms(CREATOR, start, start + timedelta(hours=1), page_size=PAGE)
    )


# name -> (endpoint, iterator, page field on the wire, what identifies an item)
CASES: dict[str, tuple[str, Callable[[MeetingClient], AsyncIterator[Any]], str, str]] = {
    "iter_by_user": ("queryByUser", _by_user, "pageNum", "id"),
    "iter_recent": ("pageRecentList", _recent, "page", "id"),
    "iter_book_info": ("bookInfo", _book_info, "pageIndex", "room_order_id"),
    "iter_free_rooms": ("freeRooms", _free_rooms, "pageIndex", "room_id"),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_iterator_pages_through_a_throttled_page_to_a_short_last_page(
    connect: Factory, name: str
) -> None:
    endpoint, iterate, page_field, key = CASES[name]
    service = FakeService(seed=41, rooms=ROOMS)
    client = await connect(service)
    ids = await _listing(service, client)
    expected = {
        "id": set(ids),
        "room_order_id": {service.meetings[i].room_order_id for i in ids},
        "room_id": {r.room_id for r in ROOMS},
    }[key]
    service.faults.script = ["ok", "throttle"]  # the second page is throttled once
    before = len(service.calls)

    got = [getattr(item, key) async for item in iterate(client)]

    assert len(got) == len(set(got)) == 7
    assert set(got) == expected
    calls = [c for c in service.calls[before:] if c.endpoint == endpoint]
    pages = [c.body[page_field] if c.body else None for c in calls]
    assert pages == [1, 2, 2, 3, 4]  # page 2 throttled then resent; page 4 short: the end
    assert calls[1].error_code != 0
    assert calls[1].fault == "throttle"
    first = {k: v for k, v in (calls[0].body or {}).items() if k != page_field}
    for call in calls[1:]:  # every other parameter kept between pages
        assert {k: v for k, v in (call.body or {}).items() if k != page_field} == first
