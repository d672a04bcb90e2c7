"""Waiters: woken first come first, a given number at a time; a timed-out waiter leaves."""

from __future__ import annotations

import asyncio

from scrapyfleet.core.wakeups import Waiters


async def _waiting(waiters: Waiters, count: int, seconds: float | None) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(waiters.wait(seconds)) for _ in range(count)]
    await asyncio.sleep(0)  # each task runs to its wait
    return tasks


async def test_a_wake_of_one_lets_the_first_waiter_go_on_only() -> None:
    waiters = Waiters()
    first, second = await _waiting(waiters, 2, None)
    waiters.wake(1)
    await asyncio.wait_for(first, 5)
    assert not second.done()
    waiters.wake()
    await asyncio.wait_for(second, 5)


async def test_a_waiter_that_timed_out_takes_no_wake() -> None:
    waiters = Waiters()
    (gone,) = await _waiting(waiters, 1, 0.01)
    await asyncio.wait_for(gone, 5)  # timed out: no error, and out of the queue
    (late,) = await _waiting(waiters, 1, None)
    waiters.wake(1)
    await asyncio.wait_for(late, 5)


async def test_a_cancelled_waiter_takes_no_wake() -> None:
    waiters = Waiters()
    cancelled, other = await _waiting(waiters, 2, None)
    cancelled.cancel()
    await asyncio.sleep(0)
    waiters.wake(1)
    await asyncio.wait_for(other, 5)
