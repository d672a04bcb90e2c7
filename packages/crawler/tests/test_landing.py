"""The master's check of a report's landing receipt (pure logic; the real sink in
test_landing_receipts.py) and its receipt key's sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapyfleet.core import receipts
from scrapyfleet.crawler.contract import FeedFile, WorkerReport
from scrapyfleet.crawler.master.landing import KEY_ENV, receipt_key, receipt_problem
from scrapyfleet.crawler.outcomes import status_failure

KEY = b"k" * 32
NAME = "r-00001_distr_2026-12-01T19-33-33-00-00.jl"


def report(feed: FeedFile | None, failed: int = 0) -> WorkerReport:
    failures = [status_failure(f"http://x/{i}", 404) for i in range(failed)]
    return WorkerReport("r-00001-a1", "n1", 1, 2, 2, "finished", True, feed, failures)


def feed(receipt: str | None, name: str = NAME, size: int = 300, lines: int = 2) -> FeedFile:
    return FeedFile(name, size, lines, receipt)


def test_only_a_receipt_signed_for_the_reported_file_confirms_it() -> None:
    good = receipts.sign(KEY, NAME, 300, 2)
    assert receipt_problem(KEY, report(feed(good)), 2, "r-00001") is None
    refused = {
        "no feed": report(None),
        "no receipt": report(feed(None)),
        "another key": report(feed(receipts.sign(b"x" * 32, NAME, 300, 2))),
        "other bytes": report(feed(good, size=301)),
        "other lines": report(feed(good, lines=3)),
        "garbage": report(feed("226 landed")),
    }
    reasons = {why: receipt_problem(KEY, r, 2, "r-00001") for why, r in refused.items()}
    assert all(reason and reason.startswith(("receipt_missing", "receipt_invalid"))
               for reason in reasons.values()), reasons  # fmt: skip
    other = receipts.sign(KEY, "r-00009_distr.jl", 300, 2)  # another batch's receipt, replayed
    replayed = report(feed(other, name="r-00009_distr.jl"))
    assert str(receipt_problem(KEY, replayed, 2, "r-00001")).startswith("receipt_invalid")
    assert receipt_problem(KEY, replayed, 2, None) is None  # a template without %(batch)s
    assert receipt_problem(KEY, report(None, failed=2), 2, "r-00001") is None, "nothing landed"


def test_the_key_comes_from_a_file_or_the_environment_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert receipt_key(None) is None
    path = tmp_path / "key"
    path.write_text("a" * 32 + "\n")
    assert receipt_key(str(path)) == b"a" * 32
    monkeypatch.setenv(KEY_ENV, "b" * 32)
    assert receipt_key(None) == b"b" * 32
    with pytest.raises(ValueError, match="once"):
        receipt_key(str(path))
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ValueError, match="receipt key"):
        receipt_key(None)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match="cannot read"):
        receipt_key(str(tmp_path / "missing"))
