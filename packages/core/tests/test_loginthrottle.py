"""loginthrottle: failures per address, growing delays, bans (pure logic, the time passed in)."""

from __future__ import annotations

from scrapyfleet.core.loginthrottle import LoginRules, LoginThrottle

RULES = LoginRules(free=2, delay=0.5, max_delay=2.0, ban_after=6, window=60.0, ban=100.0)


def test_free_failures_then_doubling_delays_then_a_ban() -> None:
    throttle = LoginThrottle(RULES)
    verdicts = [throttle.failed("a", now=float(t)) for t in range(6)]
    assert [v.delay for v in verdicts[:5]] == [0.0, 0.0, 0.5, 1.0, 2.0]
    assert verdicts[5].banned == 100.0 and verdicts[5].failures == 6
    assert throttle.banned("a", 10.0) == 95.0
    assert throttle.banned("b", 10.0) == 0.0  # other addresses are not concerned
    assert throttle.banned("a", 105.0) == 0.0  # the ban ends; the count starts afresh
    assert throttle.failed("a", 106.0).failures == 1


def test_window_and_success_forget_failures() -> None:
    throttle = LoginThrottle(RULES)
    for t in range(4):
        throttle.failed("a", float(t))
    assert throttle.failed("a", 100.0).failures == 1  # the window passed
    throttle.failed("a", 101.0)
    throttle.succeeded("a")
    assert throttle.failed("a", 102.0).failures == 1


def test_addresses_remembered_are_bounded() -> None:
    throttle = LoginThrottle(LoginRules(remembered=3))
    for n in range(10):
        throttle.failed(f"10.0.0.{n}", 0.0)
    assert throttle.failed("10.0.0.0", 1.0).failures == 1  # forgotten, the newest 3 kept
    assert throttle.failed("10.0.0.9", 1.0).failures == 2
