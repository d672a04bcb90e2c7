"""The one backoff policy and the one polling loop."""

from __future__ import annotations

import time

from scrapyfleet.core.waits import Backoff, wait_until


def test_backoff_doubles_up_to_its_cap() -> None:
    plain = Backoff(first=0.5, cap=3.0)
    assert [plain.delay(n) for n in (1, 2, 3, 4, 40)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_equal_jitter_keeps_half_fixed() -> None:
    jittered = Backoff(first=2.0, cap=60.0, jitter=True)
    assert [jittered.delay(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert [jittered.delay(n, rand=lambda: 1.0) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]


def test_wait_until_returns_what_the_check_found() -> None:
    calls = iter([None, None, "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001) == "ready"


def test_wait_until_gives_up_at_its_deadline() -> None:
    started = time.monotonic()
    assert wait_until(lambda: False, timeout=0.2, interval=0.01) is None
    assert 0.2 <= time.monotonic() - started < 2.0
