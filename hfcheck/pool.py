"""One producer, N workers and a bounded queue between them: the shape of verify, deep and restore.

The queue holds at most 4 x N items, so memory does not grow with the input: the producer
waits while the workers are busy. Built on `asyncio.TaskGroup`: when the producer or a worker
raises, everything else is cancelled and that error propagates — a dead worker can never leave
the producer waiting on a full queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
Put = Callable[[T], Awaitable[None]]

_DONE = object()


async def run_pool(
    produce: Callable[[Put[T]], Awaitable[None]], handle: Callable[[T], Awaitable[None]], concurrency: int
) -> None:
    """Run `produce(put)`; `concurrency` workers `handle` each item put, until all are handled."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=concurrency * 4)

    async def feed() -> None:
        await produce(queue.put)
        for _ in range(concurrency):
            await queue.put(_DONE)

    async def work() -> None:
        while (item := await queue.get()) is not _DONE:
            await handle(item)  # type: ignore[arg-type]  # every item but the _DONE sentinel is a T

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(feed())
            for _ in range(concurrency):
                group.create_task(work())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure; the rest were cancelled by it


__all__ = ["Put", "run_pool"]
