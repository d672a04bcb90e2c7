"""A simulated worker job for bench/fleetsim.py: the calls of `scrapyfleet.crawler.worker` (its
client, lease renewal, next lease and wire models, imported, not copied) without Scrapy.

The job claims its attempt with the job proof (an HMAC under its node's password), "crawls" its
URLs at `url_seconds` each, `concurrency` at a time, renewing the lease meanwhile, reports every
URL with an outcome drawn from the fault mix (`failed` ones transient: the master retries them),
then asks for its next lease until the master says `done`. It never uploads a feed (the master,
without a receipt key, takes its word).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from simnodes import SimJob, SimNode

from scrapyfleet.crawler.contract import BatchGrant, FeedFile, WorkerReport
from scrapyfleet.crawler.jobproof import job_proof
from scrapyfleet.crawler.outcomes import Outcome, UrlFailure
from scrapyfleet.crawler.sitegate import GateState
from scrapyfleet.crawler.worker.batchreport import Lease
from scrapyfleet.crawler.worker.leaseclient import next_lease, renew
from scrapyfleet.crawler.worker.masterclient import CALL_TIMEOUT, MasterClient

FAULT_KINDS: dict[str, tuple[Outcome, str, int, bool]] = {  # outcome, reason, status, transient
    "gone": ("gone", "HTTP 404", 404, False),
    "no_item": ("no_item", "no item", 200, False),
    "failed": ("failed", "HTTP 500", 500, True),
}
ITEM_BYTES = 200  # a feed line's size, for the report's figures
CALL_ERRORS = (ConnectionError, ValueError, OSError, aiohttp.ClientResponseError)


def parse_faults(text: str) -> dict[str, float]:
    """`gone=0.01,failed=0.01` -> {"gone": 0.01, "failed": 0.01}; ValueError says what is wrong."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")
        mix[kind] = float(share)
    if sum(mix.values()) > 1:
        raise ValueError("the fault shares add up to more than 1")
    return mix


class NodeClient(MasterClient):
    """The worker's master client, connecting from its node's own address (`node_host`)."""

    def __init__(self, master: str, address: str) -> None:
        super().__init__(master, None)
        self.address = address

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None and not self._closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(self.address, 0)),
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT),
            )
        return super()._http()


@dataclass(slots=True)
class SimStats:
    """What the simulated fleet saw: report latencies and each URL's last accepted outcome."""

    report_seconds: list[float] = field(default_factory=list)
    settled: int = 0  # URLs in accepted reports (a transient failure counts again on retry)
    not_landed: dict[str, Outcome] = field(default_factory=dict)  # url -> last reported outcome
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class SimWorkers:
    """How every simulated job behaves, and what they saw together."""

    url_seconds: float
    concurrency: int
    faults: dict[str, float]
    total: int  # URLs the run diverts
    seed: int = 0
    stats: SimStats = field(default_factory=SimStats)
    halfway: asyncio.Event = field(default_factory=asyncio.Event)  # half the URLs are settled
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def failures(self, urls: list[str]) -> list[UrlFailure]:
        out = []
        for url in urls:
            draw = self._rng.random()
            for kind, share in self.faults.items():
                if draw < share:
                    outcome, reason, status, transient = FAULT_KINDS[kind]
                    out.append(UrlFailure(url, outcome, reason, status, transient))
                    break
                draw -= share
        return out

    async def run_job(self, node: SimNode, job: SimJob) -> None:
        """One scrapyd job: its first attempt, then lease after lease."""
        client = NodeClient(job.settings["DISTRIBUTED_MASTER_URL"], node.host)
        try:
            await self._leases(client, node, job)
        finally:
            await client.close()

    async def _leases(self, client: MasterClient, node: SimNode, job: SimJob) -> None:
        batch, attempt = job.args["batch"], int(job.args["attempt"])
        proof = job_proof(node.password, batch, attempt, job.id)
        try:
            answer = await client.call("GET", batch, "", proof,
                                       params={"job": job.id, "attempt": str(attempt)})  # fmt: skip
            grant = BatchGrant.from_json(answer)
        except CALL_ERRORS as exc:
            self.stats.errors[f"fetch: {type(exc).__name__}"] += 1
            return
        assert grant.credential is not None
        lease = Lease(grant.batch, grant.attempt, grant.credential, grant.urls, grant.lease_timeout)
        while True:
            if not await self._crawl(client, lease, job.id, node.name):
                return
            got = await next_lease(client, lease, job.id)
            self.stats.calls["next"] += 1
            if got is None:
                return
            lease = got[0]

    async def _crawl(self, client: MasterClient, lease: Lease, job: str, node: str) -> bool:
        """Crawl and report one lease; whether the master accepted the report as done."""
        gate = GateState()
        renewer = asyncio.create_task(renew(client, lease, gate)) if lease.timeout else None
        try:
            await asyncio.sleep(len(lease.urls) * self.url_seconds / self.concurrency)
        finally:
            if renewer is not None:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
        failures = self.failures(lease.urls)
        items = len(lease.urls) - len(failures)
        feed = FeedFile(f"{lease.batch}.jl", items * ITEM_BYTES, items) if items else None
        report = WorkerReport(job, node, lease.attempt, items, len(lease.urls), "finished", True,
                              feed, failures)  # fmt: skip
        started = time.monotonic()
        try:
            answer = await client.call("POST", lease.batch, "/report", lease.credential,
                                       params=lease.params, json=report.to_json())  # fmt: skip
        except CALL_ERRORS as exc:
            self.stats.errors[f"report: {type(exc).__name__}"] += 1
            return False
        self.stats.report_seconds.append(time.monotonic() - started)
        if answer.get("state") != "done":
            return False
        self._settle(lease.urls, failures)
        return True

    def _settle(self, urls: list[str], failures: list[UrlFailure]) -> None:
        self.stats.settled += len(urls)
        if self.stats.settled >= self.total / 2:
            self.halfway.set()
        for url in urls:
            self.stats.not_landed.pop(url, None)
        for failure in failures:
            self.stats.not_landed[failure.url] = failure.outcome
