"""URL outcomes and retry delays (pure logic)."""

from __future__ import annotations

import pytest

from scrapyfleet.crawler.outcomes import (
    BACKOFF_CAP,
    RETRY_AFTER_CAP,
    UrlFailure,
    backoff,
    exception_failure,
    parse_retry_after,
    status_failure,
)

URL = "http://site/properties/property_000001.html"


@pytest.mark.parametrize(
    ("status", "outcome", "transient"),
    [(404, "gone", False), (410, "gone", False), (500, "failed", True), (503, "failed", True),
     (429, "failed", True), (408, "failed", True), (403, "failed", False), (400, "failed", False)],
)  # fmt: skip
def test_status_outcomes(status: int, outcome: str, transient: bool) -> None:
    failure = status_failure(URL, status)
    assert (failure.outcome, failure.transient, failure.reason) == (
        outcome,
        transient,
        f"HTTP {status}",
    )


def test_exceptions_are_transient_and_named() -> None:
    failure = exception_failure(URL, TimeoutError("took longer than 2.0 seconds"))
    assert failure.transient and failure.outcome == "failed"
    assert failure.reason == "TimeoutError: took longer than 2.0 seconds"
    assert exception_failure(URL, ConnectionResetError()).reason == "ConnectionResetError"


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert status_failure(URL, 503, "3").retry_after == 3.0


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    low = [backoff(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)]
    high = [backoff(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)]
    assert low == [1.0, 2.0, 4.0, 8.0]
    assert high == [2.0, 4.0, 8.0, 16.0]
    assert backoff(50, rand=lambda: 1.0) == BACKOFF_CAP
    assert backoff(1, retry_after=9.0, rand=lambda: 0.0) == 9.0
    assert backoff(1, retry_after=1e9, rand=lambda: 0.0) == RETRY_AFTER_CAP


def test_failure_round_trips_and_rejects_bad_entries() -> None:
    failure = status_failure(URL, 503, "2")
    assert UrlFailure.from_json(failure.to_json()) == failure
    good = failure.to_json()
    bad_entries = [[], {"url": URL}, {**good, "outcome": "landed"}, {**good, "status": True},
                   {**good, "transient": 1}]  # fmt: skip
    for bad in bad_entries:
        with pytest.raises(ValueError):
            UrlFailure.from_json(bad)
