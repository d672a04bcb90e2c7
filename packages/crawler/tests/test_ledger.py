"""The ledger's state machine, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master.ledger import Ledger
from scrapyfleet.crawler.retrywindow import RetryRule


def test_batch_lifecycle_and_retries(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    batch = ledger.add_batch("run", ["http://a/1", "http://a/2"])
    assert (batch.id, batch.state, batch.size, batch.attempts) == ("run-00001", "queued", 2, 0)
    assert ledger.payload(batch.id) == ["http://a/1", "http://a/2"]

    assert ledger.scheduled(batch.id, "n1", "job-a1") == 1
    ledger.running(batch.id, "job-a1")
    assert ledger.batch(batch.id).state == "running"
    assert ledger.attempt_failed(batch.id, "job-a1", "vanished", max_attempts=2) == "queued"

    assert ledger.scheduled(batch.id, "n2", "job-a2") == 2
    # A late failure of the old attempt does not touch the new one.
    assert ledger.attempt_failed(batch.id, "job-a1", "late", max_attempts=2) == "scheduled"
    assert ledger.done(batch.id, "job-a2", items=2, pages=2)
    assert not ledger.done(batch.id, "job-a2", items=2, pages=2), "done twice"
    assert ledger.counts() == {"done": 1}
    assert ledger.done_totals() == (2, 2)
    history = ledger.attempt_history()
    assert [(a["attempt"], a["node"], a["outcome"]) for a in history] == [
        (1, "n1", "failed"),
        (2, "n2", "done"),
    ]


def test_attempts_run_out_and_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    ledger.set_meta("token", "secret")
    first = ledger.add_batch("r", ["u1"])
    second = ledger.add_batch("r", ["u2"])
    ledger.scheduled(first.id, "n1", "j1")
    assert ledger.attempt_failed(first.id, "j1", "boom", max_attempts=1) == "failed"
    ledger.close()

    reopened = Ledger(path)
    assert reopened.get_meta("token") == "secret"
    assert reopened.batch(first.id).error == "boom"
    assert [b.id for b in reopened.batches("queued")] == [second.id]
    assert sorted(reopened.urls.all_urls()) == ["u1", "u2"]
    assert reopened.add_batch("r", ["u3"]).id == "r-00003"


def test_a_report_settles_its_batch_and_urls_together_or_not_at_all(tmp_path: Path) -> None:
    """A master dying between marking a batch done and settling its URLs left a done batch with
    pending URLs (the run then ended unsettled): both happen in one transaction."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    batch = ledger.add_batch("r", ["http://a/1", "http://a/2"])
    ledger.scheduled(batch.id, "n1", "r-00001-a1")
    report = WorkerReport("r-00001-a1", "n1", 1, 2, 2, "finished", True)
    rule = RetryRule(3, 600.0)

    def dies(*args: Any) -> dict[str, int]:
        raise sqlite3.OperationalError("disk I/O error")  # the settling never happens

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ledger.urls, "settle", dies)
        with pytest.raises(sqlite3.OperationalError):
            ledger.done_and_settled(report, batch.id, rule)
    assert ledger.batch(batch.id).state == "scheduled", "not done without its URLs"
    assert ledger.done_and_settled(report, batch.id, rule) == {
        "landed": 2, "gone": 0, "no_item": 0, "failed": 0, "pending": 0, "retry": 0
    }  # fmt: skip
    assert ledger.batch(batch.id).state == "done" and ledger.urls.counts()["landed"] == 2
    assert ledger.done_and_settled(report, batch.id, rule) is None, "done once"
