"""How long to wait: the one backoff policy (exponential, capped, optionally with equal jitter)
and the one polling loop (check until true, or give up at a deadline)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

POLL = 0.05  # seconds between checks while polling


@dataclass(frozen=True, slots=True)
class Backoff:
    """`first` seconds after the first failure, doubling after each, never more than `cap`;
    with `jitter`, equal jitter: half of that fixed, half random."""

    first: float
    cap: float
    jitter: bool = False

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failure number `failures` (1-based)."""
        ceiling = min(self.cap, self.first * 2.0 ** max(failures - 1, 0))
        return ceiling / 2 + rand() * ceiling / 2 if self.jitter else float(ceiling)


def wait_until(check: Callable[[], T], timeout: float, interval: float = POLL) -> T | None:
    """Call `check` every `interval` seconds until it returns something true (returned), or
    `timeout` seconds pass (None); it is called at least once, and once more at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(interval, left))
