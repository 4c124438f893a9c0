"""The pager behind every paged endpoint: every parameter kept, only the page number advanced,
stop on a short or empty page, errors of ``send`` left to ``send`` (the client's retry)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from yzj_meeting import SHANGHAI, ProtocolError, RateLimitError, ValidationError
from yzj_meeting._convert import encode_json
from yzj_meeting._lenient import Page
from yzj_meeting._operations import Request
from yzj_meeting.details import GetMeeting, PageRecentList, QueryByUser
from yzj_meeting.errors import THROTTLED_ERROR_CODE
from yzj_meeting.later_endpoints import LATER_ENDPOINTS
from yzj_meeting.paging import iter_items, iter_pages, page_count
from yzj_meeting.rooms import BookInfo, Booking, BookingChanges, FreeRooms, Room

from .conftest import MakeClient
from .support import RecordingSleep, ScriptedTransport, body_of, fail, ok

START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
ROWS = {row.name: row for row in LATER_ENDPOINTS}


class ScriptedSend:
    """A ``send`` answering page ``n`` from ``pages[n - 1]`` (then empty), recording models."""

    def __init__(self, pages: list[Any], *, page_field: str, empty: Any = None) -> None:
        self.pages = pages
        self.page_field = page_field
        self.empty = Page() if empty is None else empty
        self.sent: list[Any] = []
        self.raise_once: dict[int, BaseException] = {}

    async def __call__(self, model: Any) -> Any:
        self.sent.append(model)
        number = getattr(model, self.page_field)
        error = self.raise_once.pop(number, None)
        if error is not None:
            raise error
        return self.pages[number - 1] if number <= len(self.pages) else self.empty


def retrying(send: Callable[[Any], Awaitable[Any]], attempts: int = 3) -> Any:
    """What the client does around each page: resend a throttled call."""

    async def call(model: Any) -> Any:
        for attempt in range(attempts):
            try:
                return await send(model)
            except RateLimitError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    return call


def rooms(*ids: str) -> Page[Room]:
    return Page([Room(room_id=i) for i in ids])


async def collect(aiter: Any) -> list[Any]:
    return [item async for item in aiter]


async def test_three_full_pages_and_a_short_one_keep_every_parameter() -> None:
    first = FreeRooms("oid", START, START + timedelta(hours=1), page_size=2)
    send = ScriptedSend(
        [rooms("a", "b"), rooms("c", "d"), rooms("e", "f"), rooms("g")], page_field="page_index"
    )
    items = await collect(iter_items(send, first))
    assert [r.room_id for r in items] == list("abcdefg")
    assert [m.page_index for m in send.sent] == [1, 2, 3, 4]  # stopped on the short page
    for model in send.sent:
        assert model == attrs.evolve(first, page_index=model.page_index)


async def test_a_throttled_page_is_resent_by_send_and_the_listing_goes_on() -> None:
    first = QueryByUser("oid", status=1, page_size=2)
    send = ScriptedSend(
        [Page(["m1", "m2"]), Page(["m3", "m4"]), Page(["m5", "m6"]), Page(["m7"])],
        page_field="page_num",
    )
    send.raise_once[2] = RateLimitError("throttled", error_code=THROTTLED_ERROR_CODE, endpoint="x")
    items = await collect(iter_items(retrying(send), first))
    assert items == ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
    assert [m.page_num for m in send.sent] == [1, 2, 2, 3, 4]
    assert {(m.open_id, m.status, m.page_size) for m in send.sent} == {("oid", 1, 2)}


async def test_an_error_send_gives_up_on_leaves_the_iteration_after_the_pages_yielded() -> None:
    send = ScriptedSend([Page([1, 2]), Page([3, 4]), Page([5])], page_field="page")
    down = RateLimitError("throttled", error_code=THROTTLED_ERROR_CODE, endpoint="x")
    got: list[int] = []

    async def listing() -> None:
        send.raise_once[2] = down
        async for item in iter_items(send, PageRecentList(size=2)):
            got.append(item)

    with pytest.raises(RateLimitError):
        await listing()
    assert got == [1, 2]
    # Resumable from the page that failed, with the same parameters.
    assert await collect(iter_items(send, PageRecentList(size=2, page=2))) == [3, 4, 5]


async def test_an_empty_page_ends_the_listing_and_is_not_yielded() -> None:
    send = ScriptedSend([Page([1, 2]), Page([3, 4])], page_field="page")
    pages = await collect(iter_pages(send, PageRecentList(size=2)))
    assert pages == [[1, 2], [3, 4]]
    assert [m.page for m in send.sent] == [1, 2, 3]
    empty_first = ScriptedSend([], page_field="page")
    assert await collect(iter_pages(empty_first, PageRecentList())) == []
    assert len(empty_first.sent) == 1


async def test_a_page_with_unreadable_items_still_counts_as_full() -> None:
    # 2 sent, 1 readable: not short, so the next page is asked for.
    send = ScriptedSend([Page([1], received=2), Page([3])], page_field="page")
    assert await collect(iter_items(send, PageRecentList(size=2))) == [1, 3]
    assert len(send.sent) == 2


async def test_book_info_pages_count_both_lists() -> None:
    def changes(add: int, delete: int) -> BookingChanges:
        return BookingChanges(
            add=tuple(Booking(room_order_id=f"a{i}") for i in range(add)),
            delete=tuple(Booking(room_order_id=f"d{i}") for i in range(delete)),
            received=add + delete,
        )

    send = ScriptedSend(
        [changes(2, 1), changes(1, 2), changes(1, 0)],
        page_field="page_index",
        empty=BookingChanges(),
    )
    pages = await collect(iter_pages(send, BookInfo("10109", START, page_size=3)))
    assert [page_count(p) for p in pages] == [3, 3, 1]
    assert {(m.eid, m.last_time, m.page_size) for m in send.sent} == {("10109", START, 3)}


async def test_a_server_ignoring_the_page_number_is_a_protocol_error() -> None:
    same = Page([1, 2])

    async def send(model: Any) -> Page[int]:
        return same

    with pytest.raises(ProtocolError, match="ignores the page number"):
        await collect(iter_items(send, PageRecentList(size=2)))


async def test_max_pages_bounds_the_calls() -> None:
    calls: list[int] = []

    async def send(model: PageRecentList) -> Page[int]:
        calls.append(model.page)
        return Page([model.page, -model.page])

    pages = await collect(iter_pages(send, PageRecentList(size=2), max_pages=5))
    assert len(pages) == 5
    assert calls == [1, 2, 3, 4, 5]


async def test_only_paged_models_are_accepted() -> None:
    async def send(model: Any) -> Page[Any]:
        raise AssertionError("not sent")

    with pytest.raises(ValidationError):
        await collect(iter_pages(send, GetMeeting("m")))


async def test_pages_go_through_the_clients_retry_and_rate_limit(
    make_client: MakeClient, sleep: RecordingSleep
) -> None:
    """The real client's ``send`` around each page: a throttled page mid-listing is resent
    after a pause, every page's body carries the same parameters."""
    row = ROWS["freeRooms"]

    def page(*ids: str) -> Any:
        return ok([{"roomId": i, "roomName": f"room {i}"} for i in ids], error_code=200)

    transport = ScriptedTransport(
        answers=[
            page("a", "b"),
            fail(THROTTLED_ERROR_CODE, "请求过于频繁"),
            page("c", "d"),
            page("e", "f"),
            page("g"),
        ]
    )
    client = make_client(transport, calls_per_minute=1500)

    async def send(model: FreeRooms) -> Any:
        request = Request(
            endpoint=row.name,
            path=row.path,
            body=encode_json(row.body(model)),
            idempotent=row.idempotent,
            decode=row.parse,
        )
        return await client.send(request)

    first = FreeRooms("oid", START, START + timedelta(hours=1), page_size=2)
    items = await collect(iter_items(send, first))
    assert [r.room_id for r in items] == list("abcdefg")
    sent = [r for r in transport.requests if r.url.split("?")[0].endswith("/freeRooms")]
    assert all("/api/roomBook/third/freeRooms?" in r.url for r in sent)
    assert [body_of(r)["pageIndex"] for r in sent] == [1, 2, 2, 3, 4]
    others = {json.dumps({k: v for k, v in body_of(r).items() if k != "pageIndex"}) for r in sent}
    assert len(others) == 1
    assert len(sleep.delays) == 1  # the client paused before resending the throttled page
