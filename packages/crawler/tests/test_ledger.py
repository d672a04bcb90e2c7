"""The ledger's state machine, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master.ledger import Ledger
from scrapyfleet.crawler.master.options import load_options
from scrapyfleet.crawler.master.urlschema import LedgerFormatError, file_problem
from scrapyfleet.crawler.outcomes import status_failure
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
    assert reopened.payload(first.id) == ["u1"] and reopened.payload(second.id) == ["u2"]
    assert reopened.urls.counts() == {"landed": 0, "gone": 0, "no_item": 0, "failed": 1,
                                      "pending": 1}  # fmt: skip
    assert reopened.add_batch("r", ["u3"]).id == "r-00003"


def test_new_urls_are_remembered_by_fingerprint_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    fingerprints = [bytes([i]) * 20 for i in range(3)]
    ledger.add_batch("r", ["http://a/0", "http://a/1", "http://a/2"], fingerprints)
    ledger.close()
    reopened = Ledger(path)
    assert reopened.urls.known([*fingerprints, bytes([9]) * 20]) == set(fingerprints)


def test_a_write_that_fails_leaves_no_batch_and_no_fingerprint(tmp_path: Path) -> None:
    """A batch, its payload and its fingerprints are written together or not at all (a disk
    that filled up mid-batch: the URLs are collected again by the resumed run)."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.add_batch("r", ["http://a/0"], [b"a" * 20])
    ledger._db.execute("CREATE TRIGGER full BEFORE INSERT ON seen BEGIN"
                       " SELECT RAISE(ABORT, 'database or disk is full'); END")  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError):
        ledger.add_batch("r", ["http://a/1"], [b"b" * 20])
    assert [b.id for b in ledger.batches()] == ["r-00001"]
    assert not ledger.urls.known([b"b" * 20])
    assert ledger.urls.counts()["pending"] == 1
    with pytest.raises(KeyError):
        ledger.payload("r-00002")


def test_a_ledger_of_an_older_version_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_LEDGER)
    problem = file_problem(path)
    assert problem is not None and "\n" not in problem
    assert "another scrapyfleet version (format 0" in problem
    with pytest.raises(LedgerFormatError, match="resume that run with the version that started"):
        Ledger(path)
    (tmp_path / "options.json").write_text("{}")
    with pytest.raises(SystemExit) as refused:
        load_options(["--resume", str(tmp_path)])
    assert refused.value.code == 2
    with pytest.raises(SystemExit):
        load_options(["--run-dir", str(tmp_path)])
    assert file_problem(tmp_path / "none.sqlite") is None
    Ledger(tmp_path / "new.sqlite").close()
    assert file_problem(tmp_path / "new.sqlite") is None, "this version's own ledger opens"


OLD_LEDGER = """
CREATE TABLE batches (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, urls TEXT NOT NULL);
CREATE TABLE urls (url TEXT PRIMARY KEY, batch TEXT NOT NULL, outcome TEXT NOT NULL);
INSERT INTO batches VALUES ('r-00001', 1, '["http://site/p0"]');
INSERT INTO urls VALUES ('http://site/p0', 'r-00001', 'failed');
"""


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


def test_a_split_batch_keeps_every_url_once_and_pending(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    urls = [f"http://a/{n}" for n in range(10)]
    batch = ledger.add_batch("r", urls, [bytes([n]) * 20 for n in range(10)])
    rest = ledger.split(batch.id, 4)
    assert rest is not None and (rest.id, rest.state, rest.size) == ("r-00002", "queued", 6)
    assert ledger.batch(batch.id).size == 4
    assert ledger.payload(batch.id) + ledger.payload(rest.id) == urls
    assert ledger.urls.counts()["pending"] == 10, "the counts did not change"
    rule = RetryRule(3, 600.0)
    for part in (batch.id, rest.id):
        job = f"{part}-a1"
        ledger.scheduled(part, "n1", job)
        ledger.done_and_settled(WorkerReport(job, "n1", 1, 1, 1, "finished", True), part, rule)
    assert ledger.urls.counts() == {"landed": 10, "gone": 0, "no_item": 0, "failed": 0,
                                    "pending": 0}  # fmt: skip


def test_only_a_queued_batch_of_new_urls_never_tried_is_split(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    small = ledger.add_batch("r", ["http://a/1", "http://a/2"])
    assert ledger.split(small.id, 2) is None, "nothing beyond the share"
    tried = ledger.add_batch("r", ["http://a/3", "http://a/4"])
    ledger.scheduled(tried.id, "n1", "j1")
    ledger.attempt_failed(tried.id, "j1", "vanished", max_attempts=3)
    assert ledger.batch(tried.id).state == "queued"
    assert ledger.split(tried.id, 1) is None, "its attempts belong to all of its URLs"
    failures = [status_failure("http://a/1", 500), status_failure("http://a/2", 500)]
    ledger.scheduled(small.id, "n1", "j2")
    report = WorkerReport("j2", "n1", 1, 0, 2, "finished", True, failures=failures)
    ledger.done_and_settled(report, small.id, RetryRule(3, 600.0))
    retried = ledger.add_batch("r", [url for url, _ in ledger.urls.due(now=float("inf"))])
    assert retried.size == 2 and ledger.split(retried.id, 1) is None, "retried URLs stay whole"
    assert [b.size for b in ledger.batches()] == [2, 2, 2], "a refused split leaves no batch"
