"""Waiters: coroutines that wait for a change, woken first come first, a few at a time (the
master's waiting `next` requests, a site gate's held requests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class Waiters:
    """A queue of waiting coroutines; `wake(n)` lets the first `n` still waiting go on."""

    def __init__(self) -> None:
        self._queue: deque[asyncio.Future[None]] = deque()

    def wake(self, count: int | None = None) -> None:
        """Wake the first `count` waiters (every one if None)."""
        while self._queue and (count is None or count > 0):
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if count is not None:
                    count -= 1

    async def wait(self, seconds: float | None) -> None:
        """Until a wake reaches this waiter, or `seconds` pass (None: no limit)."""
        waiter = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await waiter
        finally:
            if waiter.cancelled():  # timed out, or the waiting task went away: not woken
                with contextlib.suppress(ValueError):  # a wake may have dropped it already
                    self._queue.remove(waiter)
