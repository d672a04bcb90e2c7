"""The master's batch/report endpoint: per-attempt credentials, validation, and a ledger that bad,
stale, forged or misdirected requests leave untouched (real HTTP through aiohttp's test server)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.crawler.batchserver import BatchEndpoint, make_app
from scrapyfleet.crawler.credentials import attempt_credential, new_secret
from scrapyfleet.crawler.ledger import Ledger
from scrapyfleet.crawler.outcomes import status_failure
from scrapyfleet.crawler.reports import WorkerReport

SECRET = new_secret()
FEED = "ftp://worker:pw@127.0.0.1:2121/"
URLS = ["http://x/1", "http://x/2", "http://x/3"]


def auth(batch: str = "r-00001", attempt: int = 2, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {attempt_credential(secret, batch, attempt)}"}


def report(attempt: int = 2, **fields: Any) -> dict[str, Any]:
    failure = status_failure(URLS[2], 404).to_json()
    return {"job": f"r-00001-a{attempt}", "node": "n2", "attempt": attempt, "items": 2,
            "pages": 3, "finish_reason": "finished", "feed_ok": True,
            "feed": {"name": "r-00001_distr.jl", "bytes": 300, "lines": 2},
            "failures": [failure], **fields}  # fmt: skip


def snapshot(ledger: Ledger) -> Any:
    """Everything the ledger holds, to compare before and after a refused request."""
    db = sqlite3.connect(ledger.path)
    try:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("batches", "attempts", "urls", "meta")]  # fmt: skip
    finally:
        db.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """r-00001 on its second attempt (the first failed), r-00002 never scheduled."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    batch = ledger.add_batch("r", URLS)
    ledger.scheduled(batch.id, "n1", "r-00001-a1")
    ledger.attempt_failed(batch.id, "r-00001-a1", "node lost", 3)
    ledger.scheduled(batch.id, "n2", "r-00001-a2")
    ledger.add_batch("r", ["http://x/4"])
    return ledger


@pytest.fixture
async def client(aiohttp_client, ledger: Ledger):
    def on_report(batch_id: str, worker: WorkerReport) -> str:
        ledger.done(batch_id, worker.job, worker.items, worker.pages, worker.feed)
        ledger.urls.settle(batch_id, worker.node, worker.failures, 3)
        return ledger.batch(batch_id).state

    endpoint = BatchEndpoint(ledger, SECRET, FEED, lambda b, j: ledger.running(b, j), on_report)
    return await aiohttp_client(make_app(endpoint))


async def test_fetch_with_the_attempts_credential(client, ledger: Ledger) -> None:
    params = {"job": "r-00001-a2", "attempt": "2"}
    response = await client.get("/batches/r-00001", params=params, headers=auth())
    assert response.status == 200
    assert await response.json() == {"batch": "r-00001", "attempt": 2, "urls": URLS, "feed": FEED}
    assert ledger.batch("r-00001").state == "running"
    assert (await client.get("/health")).status == 200


async def test_good_report_settles_batch_urls_and_feed(client, ledger: Ledger) -> None:
    response = await client.post(
        "/batches/r-00001/report", params={"attempt": "2"}, json=report(), headers=auth()
    )
    assert response.status == 200 and (await response.json())["state"] == "done"
    assert ledger.urls.counts()["landed"] == 2 and ledger.urls.counts()["gone"] == 1
    db = sqlite3.connect(ledger.path)
    row = db.execute("SELECT feed_name, feed_bytes, feed_lines FROM attempts WHERE attempt = 2")
    assert row.fetchone() == ("r-00001_distr.jl", 300, 2)


@pytest.mark.parametrize(
    ("batch", "attempt", "headers", "status"),
    [
        ("r-00001", 1, auth(attempt=1), 409),  # the stale first attempt, its own credential
        ("r-00001", 2, auth(batch="r-00002"), 403),  # another batch's credential
        ("r-00001", 2, auth(secret=new_secret()), 403),  # forged: a secret of its own
        ("r-00001", 2, {"Authorization": f"Bearer {SECRET}"}, 403),  # the secret is no token
        ("r-00001", 2, {}, 403),
        ("r-00002", 1, auth(batch="r-00002", attempt=1), 409),  # never scheduled
        ("r-00001", 3, auth(attempt=3), 409),  # an attempt that does not exist yet
    ],
)
async def test_refused_and_nothing_changes(client, ledger, batch, attempt, headers, status) -> None:
    before = snapshot(ledger)
    params = {"attempt": str(attempt)}
    got = await client.get(f"/batches/{batch}", params={**params, "job": "x"}, headers=headers)
    assert got.status == status
    body = report(attempt=attempt)
    posted = await client.post(f"/batches/{batch}/report", params=params, json=body,
                               headers=headers)  # fmt: skip
    assert posted.status == status
    assert snapshot(ledger) == before


async def test_report_of_another_job_or_attempt_is_refused(client, ledger) -> None:
    before = snapshot(ledger)
    for body in (report(job="r-00001-a1"), report(attempt=1)):
        response = await client.post(
            "/batches/r-00001/report", params={"attempt": "2"}, json=body, headers=auth()
        )
        assert response.status == 409
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"job": "r-00001-a2"}', b"\xff\xfe", b'{"items": -3}']
)
async def test_malformed_report_is_400_and_changes_nothing(client, ledger, body) -> None:
    before = snapshot(ledger)
    response = await client.post(
        "/batches/r-00001/report", params={"attempt": "2"}, data=body, headers=auth()
    )
    assert response.status == 400
    assert "malformed report" in await response.text()
    assert snapshot(ledger) == before


async def test_attempt_must_be_named(client) -> None:
    assert (await client.get("/batches/r-00001", headers=auth())).status == 400
