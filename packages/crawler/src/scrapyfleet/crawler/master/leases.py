"""Leases: a worker job that finished its batch takes the next queued one, in the same process.

Why: scrapyd starts one Scrapy process per job, ~1.3 CPU-seconds each; a job that keeps its
process pays that once per slot and run, and late in the run idle jobs take whatever is queued,
so the tail balances itself (docs/performance.md). A lease is an ordinary attempt in the ledger
(same credential, fetch and report rules): the master assigns the next queued batch to the asking
job as a new attempt. Only a job whose latest attempt is done gets another one; a job whose lease
failed or expired ends, and the dispatcher schedules fresh jobs as before. A lease expires when its
job runs but is silent (no fetch, renewal or report) for the lease timeout (`rules.judge_job`).
docs/architecture.md, "Batch endpoint".
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import structlog

from scrapyfleet.core.wakeups import Waiters
from scrapyfleet.crawler.contract import BatchGrant
from scrapyfleet.crawler.master.attempts import Attempts
from scrapyfleet.crawler.master.credentials import attempt_credential
from scrapyfleet.crawler.master.ledger import Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool

log = structlog.get_logger("scrapyfleet.crawler.master.leases")

LEASE_WAIT = 10.0  # seconds a `next` request waits for work before it answers `wait`
SHARE_MIN = 100  # URLs: the smallest share of the run's last URLs that a lease is cut down to


class Intake(Protocol):
    """Whether new URLs (`intake_open`) or batches of any kind (`more_to_come`: retries too)
    may still come; the dispatcher is one."""

    intake_open: bool

    def more_to_come(self) -> bool: ...


class Leases:
    """Grants leases to asking jobs and keeps when each active lease was last heard of."""

    def __init__(
        self,
        ledger: Ledger,
        attempts: Attempts,
        lease_timeout: float,
        intake: Intake,
        nodes: NodePool,
    ) -> None:
        self.ledger, self.attempts, self.lease_timeout = ledger, attempts, lease_timeout
        self.intake, self.nodes = intake, nodes
        self.placing: set[str] = set()  # batches the dispatcher is scheduling right now
        self._heard: dict[str, float] = {}  # batch -> monotonic time its job last spoke
        self._waiting = Waiters()  # `next` requests, first come first
        self._changes = 0  # how often work came or went
        self._all_looked = 0  # the change after which every waiting request looked
        self._closed = False
        # The queued batches as last read, shared by every asking job until work comes or goes
        # (`changed`): one read of the ledger per change, not one per waiting job.
        self._queued: list[Batch] | None = None

    def heard(self, batch_id: str) -> None:
        """The batch's job (or scrapyd, holding it pending) just spoke of the lease."""
        self._heard[batch_id] = self.nodes.clock()

    def silent_since(self, batch_id: str, now: float) -> float:
        """Since when the batch's job is silent (a master restart starts the clock again)."""
        return self._heard.setdefault(batch_id, now)

    def changed(self) -> None:
        """Work may have come or gone: as many waiting `next` requests look again as batches
        are queued (every one when the run is over), not each of a fleet's idle jobs at every
        report."""
        self._queued = None
        self._changes += 1
        self._waiting.wake(None if self._finished() else len(self._candidates()))

    def placed(self, batch_id: str) -> None:
        """The dispatcher is done scheduling `batch_id`: it may be queued no more."""
        self.placing.discard(batch_id)
        self._queued = None

    def _candidates(self) -> list[Batch]:
        if self._queued is None:
            self._queued = self.ledger.batches("queued")
        return self._queued

    def close(self) -> None:
        """The run ends: every waiting request answers `done`."""
        self._closed = True
        self.changed()

    def grant(self, job: str, node: str) -> Batch | None:
        """The first queued batch that may run now on `node`, leased to `job`."""
        now = self.nodes.clock()
        queued = self._candidates()
        for batch in list(queued):
            not_before, avoid = self.attempts.retry_of(batch.id)
            if batch.id in self.placing or not_before > now:
                continue
            if avoid == node and any(n.name != node for n in self.nodes.usable()):
                continue
            queued.remove(batch)  # leased now, or scheduled by the dispatcher since the read
            if self.ledger.batch(batch.id).state != "queued":
                continue
            if not self.intake.intake_open:
                self._share(batch, queued)
            attempt = self.ledger.scheduled(batch.id, node, job)
            self.ledger.running(batch.id, job)
            self.heard(batch.id)
            log.info("batch_leased", batch=batch.id, node=node, job=job, attempt=attempt)
            return self.ledger.batch(batch.id)
        return None

    def _share(self, batch: Batch, queued: list[Batch]) -> None:
        """Once no new URLs come, a lease takes only its share of the URLs left (guided
        self-scheduling: the queued URLs over the fleet's slots, at least SHARE_MIN); the rest of
        its batch is queued as a new batch, so the run's last batches end together instead of
        one big batch on one job while the others idle."""
        slots = sum(node.slots for node in self.nodes.usable())
        left = batch.size + sum(b.size for b in queued)
        share = max(SHARE_MIN, math.ceil(left / max(slots, 1)))
        if batch.size < share + SHARE_MIN:
            return
        rest = self.ledger.split(batch.id, share)
        if rest is not None:
            queued.append(rest)
            self._waiting.wake(1)  # a waiting job may take the rest
            log.info("batch_split", batch=batch.id, urls=share, rest=rest.id, rest_urls=rest.size)

    def _finished(self) -> bool:
        if self._closed:
            return True
        return not self._candidates() and not self.intake.more_to_come()

    async def next(self, job: str, node: str, secret: str, feed: str) -> dict[str, Any]:
        """`{"lease": ...}` (the batch, attempt, credential, URLs, feed destination), or
        `{"wait": seconds}` (ask again) after LEASE_WAIT, or `{"done": reason}`."""
        deadline = time.monotonic() + LEASE_WAIT  # a real wait: asyncio's clock, not the run's
        while True:
            batch = self.grant(job, node)
            if batch is not None:
                return {"lease": self.describe(batch, secret, feed).to_json()}
            if self._finished():
                return {"done": "no more batches"}
            if self._candidates() and self._all_looked != self._changes:
                self._all_looked = self._changes  # queued work this job may not take (it avoids
                self._waiting.wake()  # the node, or waits out a retry): all look once
            left = deadline - time.monotonic()
            if left <= 0:
                return {"wait": 0}
            await self._waiting.wait(left)

    def describe(self, batch: Batch, secret: str, feed: str) -> BatchGrant:
        """What a job needs to crawl its lease of `batch`."""
        return BatchGrant(
            batch.id,
            batch.attempts,
            self.ledger.payload(batch.id),
            feed,
            self.lease_timeout,
            attempt_credential(secret, batch.id, batch.attempts),
        )
