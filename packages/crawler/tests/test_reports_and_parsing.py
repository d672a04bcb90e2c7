"""Worker report validation and price parsing (pure logic)."""

from __future__ import annotations

import pytest

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.parsing import parse_price

GOOD = {"job": "j", "node": "n", "attempt": 1, "items": 3, "pages": 3,
        "finish_reason": "finished", "feed_ok": True}  # fmt: skip


def test_round_trip_and_success() -> None:
    report = WorkerReport.from_json(GOOD)
    assert report.succeeded and report.to_json() == {**GOOD, "feed": None, "failures": []}
    assert not WorkerReport.from_json({**GOOD, "feed_ok": False}).succeeded
    assert not WorkerReport.from_json({**GOOD, "finish_reason": "shutdown"}).succeeded


@pytest.mark.parametrize(
    "body",
    [[], "x", {**GOOD, "items": -1}, {**GOOD, "items": "3"}, {**GOOD, "feed_ok": 1},
     {**GOOD, "attempt": True}, {k: v for k, v in GOOD.items() if k != "job"}],
)  # fmt: skip
def test_malformed_reports_are_rejected(body: object) -> None:
    with pytest.raises(ValueError):
        WorkerReport.from_json(body)


@pytest.mark.parametrize(
    ("text", "value"),
    [("£1,234.50pw", 1234.5), ("£995pw", 995.0), ("  700.05 ", 700.05), ("", None), (None, None),
     ("n/a", None)],
)  # fmt: skip
def test_parse_price(text: str | None, value: float | None) -> None:
    assert parse_price(text) == value
