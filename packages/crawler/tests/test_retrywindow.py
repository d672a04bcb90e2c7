"""The retry rule: backoff with jitter until the attempts with a real answer or the retry window
are spent; outages (unavailable answers, failed connections) spend window only."""

from __future__ import annotations

import pytest

from scrapyfleet.crawler.defaults import DEFAULTS
from scrapyfleet.crawler.master.options import given_settings, parser
from scrapyfleet.crawler.outcomes import BACKOFF_CAP, exception_failure, status_failure
from scrapyfleet.crawler.retrywindow import RetryRule, Tried, counted

URL = "http://site/properties/property_000001.html"
RULE = RetryRule(max_attempts=3, window=600.0)
LOW, HIGH = (lambda: 0.0), (lambda: 1.0)


@pytest.mark.parametrize(
    ("failure", "spends_an_attempt"),
    [(status_failure(URL, 500), True), (status_failure(URL, 503), False),
     (status_failure(URL, 429), False), (status_failure(URL, 502), False),
     (status_failure(URL, 408), False), (exception_failure(URL, TimeoutError("took 2s")), False),
     (exception_failure(URL, ConnectionResetError()), False)],
)  # fmt: skip
def test_only_real_answers_spend_attempts(failure, spends_an_attempt: bool) -> None:
    assert counted(failure) is spends_an_attempt
    # Its third try: an attempt-spending failure has no attempt left, an outage keeps going.
    tried = Tried(tries=3, answered=3 if spends_an_attempt else 0, first_failed_at=0.0)
    again = RULE.next_try(failure, tried, now=10.0, rand=LOW)
    assert (again.at is None) is spends_an_attempt
    assert again.reason == failure.reason


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    failure = exception_failure(URL, ConnectionRefusedError())
    waits = [RULE.next_try(failure, Tried(n, 0, 0.0), 0.0, LOW).at for n in (1, 2, 3)]
    assert waits == [1.0, 2.0, 4.0]
    assert RULE.next_try(failure, Tried(1, 0, 0.0), 0.0, HIGH).at == 2.0
    assert RULE.next_try(failure, Tried(40, 0, 0.0), 100.0, HIGH).at == 100.0 + BACKOFF_CAP


def test_the_window_ends_the_retries_with_its_reason() -> None:
    failure = status_failure(URL, 503)
    assert RULE.next_try(failure, Tried(9, 0, 0.0), 590.0, HIGH).at == 600.0, "last try at end"
    spent = RULE.next_try(failure, Tried(10, 0, 0.0), 600.0, LOW)
    assert spent == (None, "retry window (600s) spent: HTTP 503")
    assert RetryRule(3, 0.0).next_try(failure, Tried(1, 0, 5.0), 5.0).at is None


def test_retry_after_is_honoured_within_the_window() -> None:
    assert RULE.next_try(status_failure(URL, 429, "30"), Tried(1, 0, 0.0), 0.0, LOW).at == 30.0
    late = RULE.next_try(status_failure(URL, 503, "120"), Tried(5, 0, 0.0), 500.0, LOW)
    assert late == (None, "retry window (600s) spent: HTTP 503"), "no try fits in the window"


def test_permanent_failures_are_not_retried() -> None:
    for failure in (status_failure(URL, 403), status_failure(URL, 404)):
        assert RULE.next_try(failure, Tried(1, 1, 0.0), 0.0) == (None, failure.reason)


def test_the_window_is_an_option_with_one_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRAPYFLEET_CRAWL_MASTER_RETRY_WINDOW", raising=False)
    given = given_settings(parser().parse_args(["--retry-window", "3"]))
    assert given == {"DISTRIBUTED_RETRY_WINDOW": 3.0}
    monkeypatch.setenv("SCRAPYFLEET_CRAWL_MASTER_RETRY_WINDOW", "90")
    assert given_settings(parser().parse_args([])) == {"DISTRIBUTED_RETRY_WINDOW": 90.0}
    assert DEFAULTS["DISTRIBUTED_RETRY_WINDOW"] == 600.0
