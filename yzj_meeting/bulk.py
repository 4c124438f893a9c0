"""Bounded concurrent execution of many items, outcomes in input order.

A fixed number of workers pull from one shared iterator (sync or async), so a million items
mean ``concurrency`` tasks, not a million; a failed item is recorded, never raised; cancelling
the caller cancels the workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sized
from typing import Generic, TypeVar

import attrs

from .errors import ValidationError

__all__ = ["Outcome", "Progress", "run_bounded"]

I = TypeVar("I")  # noqa: E741
T = TypeVar("T")


@attrs.frozen
class Outcome(Generic[I, T]):
    """What became of one item: its ``result``, or the ``error`` it raised.

    ``index`` is the item's position in the input. ``item`` is the item itself, except in the
    list ``run_bounded`` returns, where a successful outcome drops it (``None``) so that a large
    batch does not keep every input alive; failed outcomes keep theirs, ready to be retried.
    """

    index: int
    item: I | None
    result: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None


@attrs.frozen
class Progress:
    """Counts so far; ``total`` is known only when the input has a length."""

    done: int
    failed: int
    total: int | None


_END = object()


async def run_bounded(
    items: Iterable[I] | AsyncIterable[I],
    worker: Callable[[I], Awaitable[T]],
    *,
    concurrency: int,
    on_progress: Callable[[Progress], None] | None = None,
    on_outcome: Callable[[Outcome[I, T]], None] | None = None,
    collect: bool = True,
) -> list[Outcome[I, T]]:
    """Run ``worker`` on every item, at most ``concurrency`` at once; outcomes in input order.

    An ``Exception`` raised by ``worker`` becomes that item's ``Outcome.error``; the batch goes
    on. ``on_outcome`` sees each outcome as it lands, item included; ``on_progress`` the running
    counts. The list returned keeps the item of failed outcomes only. With ``collect=False``
    nothing is kept (the list returned is empty): memory stays bounded by ``concurrency``.
    """
    _check_concurrency(concurrency)
    total = len(items) if isinstance(items, Sized) else None
    outcomes: list[Outcome[I, T] | None] = []
    count = 0
    done = failed = 0

    def claim() -> int:
        nonlocal count
        count += 1
        if collect:
            outcomes.append(None)
        return count - 1

    if isinstance(items, AsyncIterable):
        source = aiter(items)
        pull = asyncio.Lock()  # anext() awaits: one puller at a time

        async def next_item() -> tuple[int, I] | None:
            async with pull:
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    return None
                return claim(), item
    else:
        iterator = iter(items)

        async def next_item() -> tuple[int, I] | None:
            item = next(iterator, _END)
            if item is _END:
                return None
            return claim(), item  # type: ignore[return-value]

    async def work() -> None:
        nonlocal done, failed
        while (job := await next_item()) is not None:
            index, item = job
            try:
                outcome: Outcome[I, T] = Outcome(index, item, result=await worker(item))
            except Exception as exc:
                outcome = Outcome(index, item, error=exc)
                failed += 1
            if collect:
                outcomes[index] = outcome if outcome.error else Outcome(index, None, outcome.result)
            done += 1
            if on_outcome is not None:
                on_outcome(outcome)
            if on_progress is not None:
                on_progress(Progress(done, failed, total))

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(work())
    return outcomes  # type: ignore[return-value]


def _check_concurrency(concurrency: object) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", "must be an int >= 1")
