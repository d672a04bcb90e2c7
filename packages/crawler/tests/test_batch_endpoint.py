"""The master's batch/report endpoint: token, validation, ledger untouched by bad requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapyfleet.crawler.batchserver import BatchEndpoint, make_app
from scrapyfleet.crawler.ledger import Ledger
from scrapyfleet.crawler.reports import WorkerReport

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPORT = {"job": "r-00001-a1", "node": "n1", "attempt": 1, "items": 2, "pages": 2,
          "finish_reason": "finished", "feed_ok": True}  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    batch = ledger.add_batch("r", ["http://x/1", "http://x/2"])
    ledger.scheduled(batch.id, "n1", "r-00001-a1")
    return ledger


@pytest.fixture
async def client(aiohttp_client, ledger: Ledger):
    reports: list[WorkerReport] = []

    def on_report(batch_id: str, report: WorkerReport) -> str:
        reports.append(report)
        ledger.done(batch_id, report.job, report.items, report.pages)
        return ledger.batch(batch_id).state

    endpoint = BatchEndpoint(ledger, TOKEN, lambda b, j: ledger.running(b, j), on_report)
    client = await aiohttp_client(make_app(endpoint))
    client.reports = reports
    return client


async def test_fetch_batch_with_token(client, ledger: Ledger) -> None:
    response = await client.get("/batches/r-00001", params={"job": "r-00001-a1"}, headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"batch": "r-00001", "attempt": 1,
                                     "urls": ["http://x/1", "http://x/2"]}  # fmt: skip
    assert ledger.batch("r-00001").state == "running"
    assert (await client.get("/batches/nope", headers=AUTH)).status == 404
    assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_no_or_wrong_token_is_401_and_changes_nothing(client, ledger, headers) -> None:
    before = ledger.batch("r-00001")
    assert (
        await client.get("/batches/r-00001", params={"job": "x"}, headers=headers)
    ).status == 401
    response = await client.post("/batches/r-00001/report", json=REPORT, headers=headers)
    assert response.status == 401
    assert ledger.batch("r-00001") == before and client.reports == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"job": "r-00001-a1"}', b"\xff\xfe", b'{"items": -3}']
)
async def test_malformed_report_is_400_and_changes_nothing(client, ledger, body) -> None:
    before = ledger.batch("r-00001")
    response = await client.post("/batches/r-00001/report", data=body, headers=AUTH)
    assert response.status == 400
    assert "malformed report" in await response.text()
    assert ledger.batch("r-00001") == before and client.reports == []


async def test_good_report_settles_the_batch(client, ledger) -> None:
    response = await client.post("/batches/r-00001/report", json=REPORT, headers=AUTH)
    assert response.status == 200 and (await response.json())["state"] == "done"
    assert ledger.batch("r-00001").items == 2
    assert (await client.post("/batches/zzz/report", json=REPORT, headers=AUTH)).status == 404
