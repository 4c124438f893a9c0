"""One pager behind every paged endpoint, whatever its paging names.

A paged request model says which of its attributes hold the page number and the page size
(``paging = PagingFields("page_index", "page_size")``: ``page``/``size`` for
``pageRecentList``, ``pageNum``/``pageSize`` for ``queryByUser``, ``pageIndex``/``pageSize`` for
the room-booking endpoints). The pager sends it through the caller's ``send`` (the client's
whole send: rate limit, token, retry), then the same model with only the page number advanced
(``attrs.evolve``), until a page comes back short or empty.

A page is "short" when the server sent fewer items than the page size. The count is the
page's ``received`` when it has one (``Page``, ``BookingChanges``: items the SDK could not read
still count), else its ``len``. ``bookInfo`` pages hold two lists; their total is counted,
which stops correctly whether the server pages them together or apart (apart costs at most
one empty page more). This relies on the server serving the size asked for, which is why page
sizes above a documented maximum are refused when the model is built.

If ``send`` raises, the error leaves the iteration; pages already yielded stay valid, and the
listing can be resumed from the failed page by passing a model whose page number is that page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import attrs

from .details import PagingFields
from .errors import ProtocolError, ValidationError

__all__ = ["iter_items", "iter_pages", "page_count"]

M = TypeVar("M")
P = TypeVar("P")
I = TypeVar("I")  # noqa: E741


def page_count(page: Any) -> int:
    """How many items the server sent in ``page`` (``received`` if it has one, else ``len``)."""
    received = getattr(page, "received", None)
    return received if type(received) is int else len(page)


def _paging_of(model: Any) -> PagingFields:
    paging = getattr(type(model), "paging", None)
    if not isinstance(paging, PagingFields) or not attrs.has(type(model)):
        raise ValidationError("model", f"not a paged request model: {type(model).__name__}")
    return paging


async def iter_pages(
    send: Callable[[M], Awaitable[P]],
    first: M,
    *,
    max_pages: int | None = None,
) -> AsyncIterator[P]:
    """Every page from ``first`` on: ``send(first)``, then the next page number, each sent
    with every other parameter of ``first`` unchanged, until a page is short or empty (an
    empty page is not yielded).

    A server that ignores the page number answers the same full page again: that is a
    ``ProtocolError`` rather than an endless listing. ``max_pages`` bounds the calls made.
    """
    paging = _paging_of(first)
    size = getattr(first, paging.size)
    model = first
    previous: P | None = None
    sent = 0
    while max_pages is None or sent < max_pages:
        page = await send(model)
        sent += 1
        count = page_count(page)
        if count == 0:
            return
        if previous is not None and page == previous:
            raise ProtocolError(
                f"page {getattr(model, paging.page)} repeats the previous page: "
                "the server ignores the page number",
                endpoint=type(model).__name__,
            )
        yield page
        if count < size:
            return
        previous = page
        model = attrs.evolve(model, **{paging.page: getattr(model, paging.page) + 1})  # type: ignore[misc]


async def iter_items(
    send: Callable[[M], Awaitable[Iterable[I]]],
    first: M,
    *,
    max_pages: int | None = None,
) -> AsyncIterator[I]:
    """Every item of every page of ``iter_pages(send, first)``, in order."""
    async for page in iter_pages(send, first, max_pages=max_pages):
        for item in page:
            yield item
