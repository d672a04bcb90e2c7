"""Placing queued batches on nodes and scheduling their attempts (`schedule.json`).

A batch waits out its retry backoff, avoids the node it failed on when another is usable, and
goes to the node the placement picks; the job gets the attempt's own Scrapy settings
(`JobSettings`, built by the fleet: credential, feed, worker settings). docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from scrapyfleet.core.scrapyd import ScrapydError
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.attempts import Attempts
from scrapyfleet.crawler.master.fleetconfig import FleetConfig
from scrapyfleet.crawler.master.leases import Leases
from scrapyfleet.crawler.master.ledger import Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.master.nodes import Node
from scrapyfleet.crawler.master.placement import Placer

log = structlog.get_logger("scrapyfleet.crawler.master.scheduling")

JobSettings = Callable[[str, int], dict[str, str]]  # (batch, attempt) -> the job's settings


class Scheduler:
    """Places queued batches and schedules their attempts."""

    def __init__(
        self,
        config: FleetConfig,
        ledger: Ledger,
        nodes: NodePool,
        attempts: Attempts,
        leases: Leases,
    ) -> None:
        self.config, self.ledger, self.nodes = config, ledger, nodes
        self.attempts, self.leases = attempts, leases
        self.placer = Placer(config.placement)
        self.job_settings: JobSettings = lambda batch, attempt: {}

    async def place(self, now: float) -> None:
        """Schedule the queued batches that are due on the nodes with free slots."""
        for batch in self.ledger.batches("queued"):
            not_before, avoid = self.attempts.retry_of(batch.id)
            if not_before > now or self.ledger.batch(batch.id).state != "queued":
                continue  # not yet, or a job leased it while an earlier one was scheduled
            usable = {node.name: node for node in self.nodes.usable()}
            free = {name: node.free() for name, node in usable.items()}
            choice = self.placer.choose(list(usable), free, avoid=avoid)
            if choice is None:
                return
            self.leases.placing.add(batch.id)
            try:
                await self.schedule(batch, usable[choice])
            finally:
                self.leases.placed(batch.id)

    async def schedule(self, batch: Batch, node: Node) -> None:
        """A new attempt of `batch` on `node` (a refusal fails it; a timeout may have queued it:
        reconciling finds out)."""
        attempt = batch.attempts + 1
        job = f"{batch.id}-a{attempt}"
        args = {"batch": batch.id, "node": node.name, "attempt": str(attempt)}
        project, spider = self.config.project, self.config.spider
        settings = self.job_settings(batch.id, attempt)
        try:
            await self.nodes.client(node).schedule(
                project, spider, settings=settings, args=args, jobid=job
            )
        except ScrapydError as exc:
            outcome = rules.schedule_error(exc.rejected, exc.reason)
            if outcome == "refused":  # e.g. unknown project or spider: retrying may not help
                log.error("schedule_rejected", batch=batch.id, node=node.name, reason=exc.reason)
                self.ledger.scheduled(batch.id, node.name, job)
                refused = f"{node.name} refused: {exc.reason}"
                self.attempts.fail(self.ledger.batch(batch.id), refused)
                return
            if outcome == "unreachable":
                log.warning("schedule_failed", batch=batch.id, node=node.name, reason=exc.reason)
                self.nodes.unreachable(node, exc.reason)
                return
            log.warning("schedule_uncertain", batch=batch.id, node=node.name, reason=exc.reason)
        node.placed += 1
        node.quiet = False  # its new job is watched until a poll sees it
        self.ledger.scheduled(batch.id, node.name, job)
        self.leases.heard(batch.id)
        log.info("batch_scheduled", batch=batch.id, node=node.name, job=job, attempt=attempt)
