"""Per-URL bookkeeping: landed by default, failures named, transient ones retried, then failed."""

from __future__ import annotations

import sqlite3

from scrapyfleet.crawler.master.urlbook import UrlBook
from scrapyfleet.crawler.outcomes import UrlFailure, status_failure

URLS = [f"http://site/p{i}" for i in range(6)]


def book() -> UrlBook:
    return UrlBook(sqlite3.connect(":memory:", isolation_level=None))


def test_success_lands_all_but_the_named_failures() -> None:
    b = book()
    b.add("b1", URLS)
    failures = [
        status_failure(URLS[0], 404),
        UrlFailure(URLS[1], "no_item", "the page produced no item"),
        status_failure(URLS[2], 500),  # transient, attempts left: retry
        status_failure(URLS[3], 403),  # permanent
    ]
    counts = b.settle("b1", "n1", failures, max_attempts=3, now=100.0)
    assert counts == {"landed": 2, "gone": 1, "no_item": 1, "failed": 1, "pending": 0, "retry": 1}
    assert b.counts() == {"landed": 2, "gone": 1, "no_item": 1, "failed": 1, "pending": 1}
    assert b.due(now=100.0) == []
    retry_at = b.next_retry()
    assert retry_at is not None and 101.0 <= retry_at <= 102.0
    assert b.due(now=retry_at) == [(URLS[2], "n1")]
    records = {r.url: r for r in b.not_landed()}
    assert set(records) == {URLS[0], URLS[1], URLS[3]}
    assert records[URLS[3]].to_json()["reason"] == "HTTP 403"
    assert records[URLS[3]].to_json()["last_node"] == "n1"


def test_retries_run_out_then_fail_and_resume_gives_fresh_attempts() -> None:
    b = book()
    b.add("b1", URLS[:1])
    for attempt, batch in enumerate(["b1", "b2", "b3"], start=1):
        if batch != "b1":
            b.add(batch, [url for url, _ in b.due(now=1e12)])
        counts = b.settle(batch, f"n{attempt}", [status_failure(URLS[0], 503)], 3, now=0.0)
    assert counts["failed"] == 1 and b.counts()["failed"] == 1
    (record,) = b.not_landed()
    assert (record.attempts, record.node, record.reason) == (3, "n3", "HTTP 503")
    assert b.retried() == 1
    assert b.retry_failed() == 1
    assert b.due(now=0.0) == [(URLS[0], "n3")]


def test_stale_or_repeated_reports_change_nothing() -> None:
    b = book()
    b.add("b1", URLS[:2])
    b.settle("b1", "n1", [], 3)
    assert b.settle("b1", "n2", [status_failure(URLS[0], 500)], 3)["landed"] == 0
    assert b.counts()["landed"] == 2


def test_failed_batch_fails_its_pending_urls() -> None:
    b = book()
    b.add("b1", URLS[:3])
    assert b.fail_batch("b1", "node lost") == 3
    assert {r.reason for r in b.not_landed()} == {"node lost"}


def test_index_pages() -> None:
    b = book()
    assert b.index_failed("http://site/i1", "HTTP 503") == 1
    assert b.index_failed("http://site/i1", "HTTP 503") == 2
    b.index_ok("http://site/i2")
    assert b.failed_index_pages() == [("http://site/i1", "HTTP 503")]
    b.index_ok("http://site/i1")
    assert b.failed_index_pages() == []
