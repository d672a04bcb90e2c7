"""The dispatch loop: poll the nodes, reconcile their batches, place and schedule queued ones.

Every poll interval a tick polls the nodes (a quiet one, its jobs all seen running and nothing
queued, only every `rules.QUIET_POLLS` intervals), applies the rules (`rules.py`) to every active
batch (a failed attempt is queued again, up to `max_attempts`, see `attempts.py`) and tells the
progress views; every tick places queued batches on nodes with free slots as new jobs; jobs that
finished a batch lease the next queued one themselves (`leases.py`). A worker's report, a new
batch or the end of intake wakes the loop (and waiting jobs) at once, to place and settle without
polling again: at 100 nodes a poll is 200 scrapyd calls, and reports come many times a
second. With no usable node for longer than the node timeout the run aborts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable

import structlog

from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.attempts import Attempts
from scrapyfleet.crawler.master.fleetconfig import FleetConfig, RunOutcome
from scrapyfleet.crawler.master.leases import Leases
from scrapyfleet.crawler.master.ledger import ACTIVE, Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.master.scheduling import JobSettings, Scheduler

log = structlog.get_logger("scrapyfleet.crawler.master.dispatch")


class Dispatcher:
    """Moves the ledger's batches through their attempts until every one is settled."""

    def __init__(
        self,
        config: FleetConfig,
        ledger: Ledger,
        nodes: NodePool,
        outcome: RunOutcome,
        new_batch: Callable[[list[str]], Batch],
    ) -> None:
        self.config, self.ledger, self.nodes, self.outcome = config, ledger, nodes, outcome
        self.intake_open = True
        self._new_batch = new_batch
        receipts = None
        if config.receipt_key is not None:
            receipts = (config.receipt_key, "%(batch)s" in config.feed_uri.rpartition("/")[2])
        self.attempts = Attempts(
            ledger,
            nodes,
            config.max_attempts,
            config.url_retries,
            outcome.failed,
            self.wake,
            receipts,
        )
        self.leases = Leases(ledger, self.attempts, config.lease_timeout, self, nodes)
        self.scheduler = Scheduler(config, ledger, nodes, self.attempts, self.leases)
        self._no_node_since: float | None = None
        self._polled = -math.inf  # when the nodes were last polled, on the run's clock
        self._stopping = False
        self._wake = asyncio.Event()

    def more_to_come(self) -> bool:
        """Intake is open, or URL retries are still due."""
        return self.intake_open or self.ledger.urls.next_retry() is not None

    def wake(self) -> None:
        self._wake.set()
        self.leases.changed()

    def close_intake(self) -> None:
        self.intake_open = False
        self.wake()

    def stop(self) -> None:
        """End after the tick in flight (its schedule calls complete)."""
        self._stopping = True
        self.leases.close()
        self.wake()

    async def run(self, job_settings: JobSettings, after_tick: Callable[[], None]) -> None:
        """Tick until stopped or until intake is closed and every batch and URL is settled;
        attempt N of batch B gets the Scrapy settings `job_settings(B, N)`."""
        self.scheduler.job_settings = job_settings
        while (until_poll := await self.tick(after_tick)) is not None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), until_poll)

    async def tick(self, after_tick: Callable[[], None]) -> float | None:
        """One step on the run's clock: poll the nodes if a poll interval has passed (then
        reconcile and tell the views), retry due URLs, place queued batches. None when the run is
        over; else the seconds until the next poll is due."""
        now = self.nodes.clock()
        if now - self._polled >= self.config.poll_interval:
            await self.nodes.poll(self.config.project, self.config.poll_interval)
            now = self._polled = self.nodes.clock()
            self._check_usable(now)
            self._mark_quiet(self._reconcile(now))
            after_tick()
        self.attempts.retry_urls(self._new_batch, self.config.batch_size)
        await self.scheduler.place(now)
        if self._stopping or self._settled():
            after_tick()  # the views see the end
            self.leases.close()
            return None
        return max(0.0, self._polled + self.config.poll_interval - self.nodes.clock())

    def _settled(self) -> bool:
        counts = self.ledger.counts()
        busy = any(counts.get(state, 0) for state in ("queued", "scheduled", "running"))
        waiting = self.ledger.urls.next_retry() is not None
        return not self.intake_open and not busy and not waiting

    def _check_usable(self, now: float) -> None:
        if self.nodes.usable():
            self._no_node_since = None
            return
        self._no_node_since = self._no_node_since or now
        if rules.abort_run(self._no_node_since, now, self.config.node_timeout):
            self._abort(
                "no usable scrapyd node (all unreachable or set aside) for longer than"
                f" the node timeout ({self.config.node_timeout:g}s)"
            )

    def _reconcile(self, now: float) -> set[str]:
        """Judge every active batch by its node's last poll; the nodes to watch (a job of theirs
        not seen running, or failed now)."""
        watched: set[str] = set()
        for batch in self.ledger.batches(*ACTIVE):
            node = self.nodes.get(batch.node)
            sighting = node.sight(batch.job, now) if node and node.reachable and batch.job else None
            if sighting is not None and sighting.state == "pending":
                self.leases.heard(batch.id)  # waiting for a scrapyd slot is not silence
            silent = self.leases.silent_since(batch.id, now)
            verdict = rules.judge(batch, node, sighting, now, silent, self.config.lease_timeout)
            if verdict.action != "running" and batch.node is not None:
                watched.add(batch.node)
            if verdict.action == "fail":
                self.attempts.fail(batch, verdict.reason)
            elif verdict.action == "running" and batch.job is not None:
                self.ledger.running(batch.id, batch.job)
        return watched

    def _mark_quiet(self, watched: set[str]) -> None:
        """Which nodes the next polls may visit less often (`rules.quiet`)."""
        queued = self.ledger.counts().get("queued", 0) > 0
        for node in self.nodes:
            node.quiet = node.usable and rules.quiet(node.name in watched, queued)

    def _abort(self, reason: str) -> None:
        if self.outcome.fatal is None:
            self.outcome.fatal = reason
            log.error("run_aborted", reason=reason)
        for batch in self.ledger.batches("queued", *ACTIVE):
            self.ledger.give_up(batch.id, reason)
            self.outcome.failed[batch.id] = reason
        self.intake_open = False
