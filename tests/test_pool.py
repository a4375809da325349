"""run_pool: every item handled once, the producer held back by the bounded queue, and a
failing worker or producer stops the pool with its own error instead of hanging it."""

from __future__ import annotations

import asyncio

import pytest

from hfcheck.errors import InputError
from hfcheck.pool import Put, run_pool


async def test_every_item_handled_once_with_backpressure() -> None:
    handled: list[int] = []
    ahead: list[int] = []  # how far the producer ran ahead of the workers

    async def produce(put: Put[int]) -> None:
        for i in range(500):
            await put(i)
            ahead.append(i - len(handled))

    async def handle(i: int) -> None:
        await asyncio.sleep(0)
        handled.append(i)

    await run_pool(produce, handle, concurrency=3)
    assert sorted(handled) == list(range(500))
    assert max(ahead) <= 3 * 4 + 3 + 1  # queue size + one item per worker + the one being put


async def test_a_failing_worker_stops_the_pool_with_its_error() -> None:
    async def produce(put: Put[int]) -> None:
        for i in range(10_000):
            await put(i)

    async def handle(i: int) -> None:
        if i == 7:
            raise InputError("row 7 is bad")

    with pytest.raises(InputError, match="row 7"):
        await asyncio.wait_for(run_pool(produce, handle, concurrency=1), 10)


async def test_a_failing_producer_cancels_the_workers() -> None:
    cancelled = asyncio.Event()

    async def produce(put: Put[int]) -> None:
        await put(1)
        await asyncio.sleep(0.01)
        raise InputError("tweet 9 not found")

    async def handle(i: int) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(InputError, match="tweet 9"):
        await asyncio.wait_for(run_pool(produce, handle, concurrency=2), 10)
    assert cancelled.is_set()
