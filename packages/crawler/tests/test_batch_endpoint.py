"""The master's batch/report endpoint: job proofs and claims, per-attempt credentials, validation,
and a ledger that bad,
stale, forged or misdirected requests leave untouched (real HTTP through aiohttp's test server);
leases: a job takes its next batch only after its report, a report for a lease that expired or
went to another job is refused (409) and changes nothing, and the expiry rule.

Over 250 lines on purpose: one case per refusal of the endpoint, on one shared test server.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.jobproof import job_proof
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.attempts import Attempts
from scrapyfleet.crawler.master.batchserver import LIMITS, BatchEndpoint, make_app, serve
from scrapyfleet.crawler.master.credentials import attempt_credential, new_secret
from scrapyfleet.crawler.master.endpoint import NO_PROOF, WRONG_PROOF
from scrapyfleet.crawler.master.leases import Leases
from scrapyfleet.crawler.master.ledger import Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.master.sites import Sites
from scrapyfleet.crawler.outcomes import status_failure
from scrapyfleet.crawler.retrywindow import RetryRule

SECRET = new_secret()
NODE_PASSWORD = "n2-scrapyd-password"  # node n2 has basic auth; n1 has none
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
        tables = ("batches", "attempts", "payloads", "failures", "tally", "seen", "meta")
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables]
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
def refusals() -> list[tuple[str, int, str]]:
    """What the endpoint said of each claim it refused for its proof."""
    return []


@pytest.fixture
async def client(aiohttp_client, ledger: Ledger, refusals: list[tuple[str, int, str]]):
    def on_report(batch_id: str, worker: WorkerReport) -> str:
        ledger.done(batch_id, worker.job, worker.items, worker.pages, worker.feed)
        ledger.urls.settle(batch_id, worker.node, worker.failures, RetryRule(3, 600.0))
        return ledger.batch(batch_id).state

    endpoint = BatchEndpoint(ledger, SECRET, FEED, lambda b, j: ledger.running(b, j), on_report,
                             node_passwords={"n2": NODE_PASSWORD},
                             on_refused=lambda *refusal: refusals.append(refusal))  # fmt: skip
    return await aiohttp_client(make_app(endpoint))


async def test_fetch_with_the_jobs_proof_gets_the_attempts_credential(
    client, ledger, refusals
) -> None:
    params = {"job": "r-00001-a2", "attempt": "2"}

    def proof(password: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {job_proof(password, 'r-00001', 2, 'r-00001-a2')}"}

    for headers in ({}, auth(), proof("a guess")):
        refused = await client.get("/batches/r-00001", params=params, headers=headers)
        assert refused.status == 403, "only the node's password makes the job's proof"
    assert refusals == [("r-00001", 2, NO_PROOF), ("r-00001", 2, WRONG_PROOF),
                        ("r-00001", 2, WRONG_PROOF)]  # fmt: skip
    response = await client.get("/batches/r-00001", params=params, headers=proof(NODE_PASSWORD))
    assert response.status == 200
    assert await response.json() == {"batch": "r-00001", "attempt": 2, "urls": URLS, "feed": FEED,
                                     "credential": auth()["Authorization"][7:]}  # fmt: skip
    assert ledger.batch("r-00001").state == "running"
    assert (await client.get("/health")).status == 200


async def test_a_node_without_auth_claims_an_attempt_once(client, ledger) -> None:
    batch = ledger.batch("r-00002")
    ledger.scheduled(batch.id, "n1", "r-00002-a1")
    params = {"attempt": "1"}
    wrong_job = await client.get("/batches/r-00002", params={**params, "job": "other"})
    assert wrong_job.status == 409
    first = await client.get("/batches/r-00002", params={**params, "job": "r-00002-a1"})
    assert first.status == 200
    assert (await first.json())["credential"] == auth("r-00002", 1)["Authorization"][7:]
    again = await client.get("/batches/r-00002", params={**params, "job": "r-00002-a1"})
    assert again.status == 409, "a claim is useless once used"


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
    "body",
    [b"not json", b"[]", b'{"job": "r-00001-a2"}', b"\xff\xfe", b'{"items": -3}',
     b'{"items": NaN}', b"[" * 100_000 + b"]" * 100_000],  # the last: RecursionError in json
)  # fmt: skip
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


# -- leases --------------------------------------------------------------------------------------
JOB = "r-00001-a1"


def lease_report(batch: str) -> dict[str, Any]:
    return {"job": JOB, "node": "n1", "attempt": 1, "items": 1, "pages": 1,
            "finish_reason": "finished", "feed_ok": True,
            "feed": {"name": f"{batch}_distr.jl", "bytes": 10, "lines": 1}}  # fmt: skip


@pytest.fixture
def leased(tmp_path: Path) -> Ledger:
    """r-00001 leased to JOB on n1; r-00002 and r-00003 queued."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for url in ("http://x/1", "http://x/2", "http://x/3"):
        ledger.add_batch("r", [url])
    ledger.scheduled("r-00001", "n1", JOB)
    return ledger


@pytest.fixture
async def lease_client(aiohttp_client, leased: Ledger):
    attempts = Attempts(leased, NodePool([], 1, 30.0, {}), 3, RetryRule(3, 600.0), {}, lambda: None)
    leases = Leases(leased, attempts, 60.0, NoMore(), NodePool([], 1, 30.0, {}))
    endpoint = BatchEndpoint(leased, SECRET, FEED, leased.running, attempts.reported, leases)
    return await aiohttp_client(make_app(endpoint))


def test_a_refused_claim_is_said_with_its_attempts_failure(leased: Ledger) -> None:
    failed: dict[str, str] = {}
    attempts = Attempts(
        leased, NodePool([], 1, 30.0, {}), 1, RetryRule(1, 600.0), failed, lambda: None
    )
    attempts.refused("r-00001", 1, NO_PROOF)
    attempts.fail(leased.batch("r-00001"), "job finished without a successful report")
    assert failed == {"r-00001": f"job finished without a successful report; {NO_PROOF}"}


class NoMore:
    """Intake closed, no retries due."""

    intake_open = False

    def more_to_come(self) -> bool:
        return False


async def call(client, batch: str, route: str, attempt: int = 1, **kwargs: Any) -> Any:
    return await client.post(f"/batches/{batch}/{route}", params={"attempt": str(attempt)},
                             headers=auth(batch, attempt), **kwargs)  # fmt: skip


async def test_a_job_leases_the_next_batch_after_its_report(lease_client, leased) -> None:
    assert (await call(lease_client, "r-00001", "next")).status == 409, "report first"
    done = await call(lease_client, "r-00001", "report", json=lease_report("r-00001"))
    assert done.status == 200
    lease = (await (await call(lease_client, "r-00001", "next")).json())["lease"]
    assert lease["batch"] == "r-00002" and lease["urls"] == ["http://x/2"]
    assert lease["credential"] == attempt_credential(SECRET, "r-00002", 1)
    assert leased.batch("r-00002").job == JOB and leased.batch("r-00002").state == "running"
    claim = await lease_client.get("/batches/r-00002", params={"attempt": "1", "job": JOB})
    assert claim.status == 409, "a leased attempt is given: no fetch (n1 has no auth) claims it"
    again = await call(lease_client, "r-00001", "next")
    assert again.status == 409, "a credential extends the job's chain once"
    renewed = await call(lease_client, "r-00002", "renew")
    assert renewed.status == 200 and (await renewed.json())["lease_timeout"] == 60.0


async def test_report_for_an_expired_lease_is_refused(lease_client, leased) -> None:
    leased.attempt_failed("r-00001", JOB, "lease expired: job silent for over 60s", 3)
    before = snapshot(leased)
    assert (await call(lease_client, "r-00001", "renew")).status == 409
    refused = await call(lease_client, "r-00001", "report", json=lease_report("r-00001"))
    assert refused.status == 409 and snapshot(leased) == before
    # The job whose lease expired gets no other one: it ends, a fresh job takes over.
    ended = await call(lease_client, "r-00001", "next")
    assert await ended.json() == {"done": "the job's last lease failed"}
    assert snapshot(leased) == before


async def test_report_for_a_lease_given_to_another_job_is_refused(lease_client, leased) -> None:
    leased.attempt_failed("r-00001", JOB, "lease expired", 3)
    leased.scheduled("r-00001", "n2", "r-00001-a2")
    before = snapshot(leased)
    refused = await call(lease_client, "r-00001", "report", json=lease_report("r-00001"))
    assert refused.status == 409 and snapshot(leased) == before
    forged = await lease_client.post("/batches/r-00001/next", params={"attempt": "2"},
                                     headers=auth("r-00001", 2, new_secret()))  # fmt: skip
    assert forged.status == 403


def test_a_running_job_silent_past_the_lease_timeout_loses_its_lease() -> None:
    running = rules.Sighting("running")
    assert rules.judge_job("j", "n", running, 100.0, 40.0, 60.0) == rules.RUNNING
    assert rules.judge_job("j", "n", running, 100.1, 40.0, 60.0) == rules.fail(
        "lease expired: job j silent for over 60s"
    )
    assert rules.judge_job("j", "n", rules.Sighting("pending"), 1e9, 0.0, 60.0) == rules.KEEP


async def test_idle_connections_from_one_address_are_capped(ledger: Ledger) -> None:
    """1,000 connections from 127.0.0.2 that never send a request: LIMITS.per_address are held
    (until the header deadline), the rest refused at once, and a worker on 127.0.0.1 is still
    answered."""
    endpoint = BatchEndpoint(ledger, SECRET, FEED, lambda b, j: ledger.running(b, j),
                             lambda b, w: "done")  # fmt: skip
    runner, host, port = await serve(endpoint, "127.0.0.1", 0)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(20):
            opened += await asyncio.gather(*(
                asyncio.open_connection(host, port, local_addr=("127.0.0.2", 0))
                for _ in range(50)
            ))  # fmt: skip

        async def answer(reader: asyncio.StreamReader) -> bytes | None:
            try:
                return await asyncio.wait_for(reader.read(200), 1.0)
            except TimeoutError:
                return None  # held open
            except ConnectionResetError:
                return b""

        answers = await asyncio.gather(*(answer(reader) for reader, _ in opened))
        assert sum(a is None for a in answers) == LIMITS.per_address
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"http://{host}:{port}/health", timeout=aiohttp.ClientTimeout(total=10)
            ) as health,
        ):
            assert health.status == 200
    finally:
        for _, writer in opened:
            writer.close()
        await runner.cleanup()


@pytest.fixture
async def sites_client(aiohttp_client, leased: Ledger):
    attempts = Attempts(leased, NodePool([], 1, 30.0, {}), 3, RetryRule(3, 600.0), {}, lambda: None)
    leases = Leases(leased, attempts, 60.0, NoMore(), NodePool([], 1, 30.0, {}))
    endpoint = BatchEndpoint(leased, SECRET, FEED, leased.running, attempts.reported, leases,
                             sites=Sites(600.0, 4, 0.0))  # fmt: skip
    return await aiohttp_client(make_app(endpoint))


async def test_renewals_carry_site_counts_and_bring_back_orders(sites_client, leased) -> None:
    failing = {"sites": {"x": {"ok": 1, "failed": 30, "inflight": 2}}}
    answer = await (await call(sites_client, "r-00001", "renew", json=failing)).json()
    assert answer["sites"]["x"]["hold"] > 0 and answer["sites"]["x"]["concurrency"] == 4
    bad = await call(sites_client, "r-00001", "renew", json={"sites": {"x": {"ok": -1}}})
    assert bad.status == 400
    await call(sites_client, "r-00001", "report", json=lease_report("r-00001"))
    lease = (await (await call(sites_client, "r-00001", "next")).json())["lease"]
    assert lease["sites"]["x"]["hold"] > 0  # the next batch starts held: its site is down
