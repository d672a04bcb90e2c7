"""Per-URL bookkeeping: landed by default, failures named, transient ones retried (by attempts
and by time), then failed; counts kept exact without a row per landed URL; an older ledger
refused."""

from __future__ import annotations

import sqlite3

import pytest

from scrapyfleet.crawler.master.urlbook import RETRY, UrlBook
from scrapyfleet.crawler.master.urlschema import LedgerFormatError
from scrapyfleet.crawler.outcomes import UrlFailure, exception_failure, status_failure
from scrapyfleet.crawler.retrywindow import RetryRule

URLS = [f"http://site/p{i}" for i in range(6)]
RULE = RetryRule(max_attempts=3, window=600.0)


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
    counts = b.settle("b1", "n1", failures, RULE, now=100.0)
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
        counts = b.settle(batch, f"n{attempt}", [status_failure(URLS[0], 500)], RULE, now=0.0)
    assert counts["failed"] == 1 and b.counts()["failed"] == 1
    (record,) = b.not_landed()
    assert (record.attempts, record.node, record.reason) == (3, "n3", "HTTP 500")
    assert b.retried() == 1
    assert b.retry_failed() == 1
    assert b.due(now=0.0) == [(URLS[0], "n3")]


def test_stale_or_repeated_reports_change_nothing() -> None:
    b = book()
    b.add("b1", URLS[:2])
    b.settle("b1", "n1", [], RULE)
    assert b.settle("b1", "n2", [status_failure(URLS[0], 500)], RULE)["landed"] == 0
    assert b.counts()["landed"] == 2


def test_failed_batch_fails_its_pending_urls() -> None:
    b = book()
    b.add("b1", URLS[:3])
    assert b.fail_batch("b1", "node lost") == 3
    assert {r.reason for r in b.not_landed()} == {"node lost"}


def test_an_outage_spends_window_not_attempts_then_fails_named_and_resume_starts_afresh() -> None:
    b = book()
    b.add("b1", URLS[:2])
    down = [status_failure(URLS[0], 503), exception_failure(URLS[1], ConnectionRefusedError())]
    now, n = 1000.0, 1
    while True:
        b.settle(f"b{n}", "n1", down, RULE, now=now)
        due_at = b.next_retry()
        if due_at is None:
            break
        assert now < due_at <= now + 60.0, "backoff capped at 60 s"
        now, n = due_at, n + 1
        b.add(f"b{n}", [url for url, _ in b.due(now=now)])
    assert now == 1600.0, "the last try falls at the window's end"
    assert b.counts()["failed"] == 2
    records = {r.url: r for r in b.not_landed()}
    assert records[URLS[0]].reason == "retry window (600s) spent: HTTP 503"
    assert records[URLS[1]].reason == "retry window (600s) spent: ConnectionRefusedError"
    assert records[URLS[0]].attempts > 3
    assert b.retry_failed() == 2
    b.add("b99", [url for url, _ in b.due(now=now)])
    assert b.settle("b99", "n1", down, RULE, now=5000.0)["retry"] == 2, "a fresh window"


def test_a_waiting_url_keeps_its_window_start() -> None:
    b = book()
    b.add("b1", URLS[:1])
    b.settle("b1", "n1", [status_failure(URLS[0], 503)], RULE, now=0.0)
    b.add("b2", URLS[:1])  # its retry batch (a resumed run moves it likewise)
    assert b.retry_failed() == 0
    assert b.settle("b2", "n1", [status_failure(URLS[0], 503)], RULE, now=700.0)["failed"] == 1


def test_index_pages() -> None:
    b = book()
    page = "http://site/i1"
    first = b.index_failed(status_failure(page, 503), RULE, now=0.0)
    assert first.at is not None and 1.0 <= first.at <= 2.0 and first.reason == "HTTP 503"
    assert b.index_failed(status_failure(page, 503), RULE, now=599.0).at == 600.0
    b.index_ok("http://site/i2")
    assert b.failed_index_pages() == [(page, "HTTP 503")]
    assert b.index_failed(status_failure(page, 503), RULE, now=600.0).at is None
    assert b.failed_index_pages() == [(page, "retry window (600s) spent: HTTP 503")]
    b.reset_index_attempts()
    assert b.index_failed(status_failure(page, 503), RULE, now=700.0).at is not None
    for _ in range(2):
        b.index_failed(status_failure(page, 500), RULE, now=701.0)
    assert b.index_failed(status_failure(page, 500), RULE, now=702.0).at is None, "3 answers"
    b.index_ok(page)
    assert b.failed_index_pages() == []


def recount(b: UrlBook) -> dict[str, int]:
    """The counts from the tables themselves (what `tally` must agree with)."""
    db = b._db
    rows = dict(db.execute("SELECT outcome, COUNT(*) FROM failures GROUP BY outcome"))
    waiting, landed = db.execute(
        "SELECT COALESCE(SUM(fresh * (settled = 0)), 0), COALESCE(SUM(landed), 0) FROM payloads"
    ).fetchone()
    counts = {o: rows.get(o, 0) for o in ("gone", "no_item", "failed")}
    counts["landed"] = landed + rows.get("landed", 0)
    counts["pending"] = waiting + rows.get("pending", 0) + rows.get(RETRY, 0)
    return counts


def test_a_url_that_lands_at_once_keeps_no_row_and_the_counts_stay_exact() -> None:
    b = book()
    b.add("b1", URLS, [bytes([i]) * 20 for i in range(6)])
    many = [bytes([9 + i % 7]) + i.to_bytes(19) for i in range(1200)]  # more than one query's worth
    assert b.known([bytes([5]) * 20, bytes([6]) * 20, *many]) == {bytes([5]) * 20}
    b.settle("b1", "n1", [status_failure(URLS[0], 500), status_failure(URLS[1], 404)], RULE,
             now=0.0)  # fmt: skip
    assert [url for (url,) in b._db.execute("SELECT url FROM failures ORDER BY url")] == URLS[:2]
    assert b.counts() == recount(b) == {"landed": 4, "gone": 1, "no_item": 0, "failed": 0,
                                        "pending": 1}  # fmt: skip
    b.add("b2", [url for url, _ in b.due(now=1e12)])
    assert b.payload("b2") == URLS[:1] and b.counts() == recount(b)
    b.settle("b2", "n2", [], RULE)
    assert b.counts() == recount(b) and b.counts()["landed"] == 5 and b.retried() == 1
    b.add("b3", ["http://site/p6", "http://site/p7"], [b"6" * 20, b"7" * 20])
    assert b.fail_batch("b3", "node lost") == 2 and b.fail_batch("b3", "again") == 0
    assert b.counts() == recount(b) and b.counts()["failed"] == 2
    assert b.retry_failed() == 2 and b.counts() == recount(b) and b.counts()["pending"] == 2


def test_a_retry_batch_that_fails_for_good_fails_its_urls_with_their_history() -> None:
    b = book()
    b.add("b1", URLS[:2], [b"0" * 20, b"1" * 20])
    b.settle("b1", "n1", [status_failure(URLS[0], 503)], RULE, now=0.0)
    b.add("b2", [url for url, _ in b.due(now=1e12)])
    assert b.fail_batch("b2", "node lost") == 1
    (record,) = b.not_landed()
    assert (record.url, record.reason, record.attempts, record.status) == (
        URLS[0], "node lost", 1, 503)  # fmt: skip
    assert b.counts() == recount(b) == {"landed": 1, "gone": 0, "no_item": 0, "failed": 1,
                                        "pending": 0}  # fmt: skip


def test_a_ledger_of_before_is_refused_not_misread() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(OLD_LEDGER)
    with pytest.raises(LedgerFormatError, match="format 0"):
        UrlBook(db)
    fresh = sqlite3.connect(":memory:", isolation_level=None)
    UrlBook(fresh)
    UrlBook(fresh)  # its own ledger opens again


OLD_LEDGER = """
CREATE TABLE urls (url TEXT PRIMARY KEY, batch TEXT NOT NULL, outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, reason TEXT, status INTEGER, node TEXT, retry_at REAL);
INSERT INTO urls VALUES ('http://site/p0', 'b1', 'retry', 2, 'HTTP 500', 500, 'n1', 5.0);
"""
