"""The end of an attempt: a worker's report or a failed check, written to the ledger; the node's
fault counted; for a retry, when it may run and which node it should avoid (`rules.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import structlog

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.landing import receipt_problem
from scrapyfleet.crawler.master.ledger import ACTIVE, Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.retrywindow import RetryRule

log = structlog.get_logger("scrapyfleet.crawler.master.attempts")


class Attempts:
    """Settles attempts; batches failed for good go into `failed` (batch id -> reason)."""

    def __init__(
        self,
        ledger: Ledger,
        nodes: NodePool,
        max_attempts: int,
        url_retries: RetryRule,
        failed: dict[str, str],
        wake: Callable[[], None],
        receipts: tuple[bytes, bool] | None = None,
    ) -> None:
        self.ledger, self.nodes, self.max_attempts = ledger, nodes, max_attempts
        self.url_retries = url_retries
        self.failed = failed
        # The receipt key, and whether feed names hold the batch id; None: landings unconfirmed.
        self.receipts = receipts
        self._wake = wake  # something changed: the dispatcher should look again now
        self._retries: dict[str, tuple[float, str | None]] = {}  # batch -> (not before, avoid)
        self._refused: dict[tuple[str, int], str] = {}  # (batch, attempt) -> why its claim was
        self.on_failed: Callable[[str, str], None] | None = None  # hears (job, reason) of each

    def refused(self, batch_id: str, attempt: int, reason: str) -> None:
        """The claim of that attempt was refused for `reason`: said with its failure, if any."""
        self._refused[batch_id, attempt] = reason

    def avoid(self, batch_id: str, node: str | None) -> None:
        """A new (retry) batch should go to another node than `node`."""
        self._retries[batch_id] = (0.0, node)

    def retry_of(self, batch_id: str) -> tuple[float, str | None]:
        """When a queued batch may run again (monotonic seconds) and the node to avoid."""
        return self._retries.get(batch_id, (0.0, None))

    def fail(self, batch: Batch, reason: str, node_fault: bool = True) -> None:
        """The batch's current attempt failed: queue it again, or fail it for good."""
        assert batch.job is not None, "only a scheduled batch has an attempt to fail"
        refused = self._refused.pop((batch.id, batch.attempts), None)
        if refused is not None:
            reason = f"{reason}; {refused}"
        state = self.ledger.attempt_failed(batch.id, batch.job, reason, self.max_attempts)
        if self.on_failed is not None:
            self.on_failed(batch.job, reason)
        node = self.nodes.get(batch.node)
        if node is not None and node_fault:
            self.nodes.fault(node, reason)
        if state == "failed":
            self.failed[batch.id] = reason
            log.error("batch_failed", batch=batch.id, attempts=batch.attempts, reason=reason)
        else:
            retry = rules.retry(batch, node_fault)
            self._retries[batch.id] = (self.nodes.clock() + retry.delay, retry.avoid)
            log.warning("batch_retry", batch=batch.id, attempt=batch.attempts, node=batch.node,
                        reason=reason, delay=retry.delay)  # fmt: skip
        self._wake()

    def reported(self, batch_id: str, report: WorkerReport) -> str:
        """A worker's report: the batch is done, or its attempt failed; the batch's state."""
        batch = self.ledger.batch(batch_id)
        failure = rules.report_failure(report)
        if failure is None and self.receipts is not None:
            key, named = self.receipts
            size = len(self.ledger.payload(batch_id))
            failure = receipt_problem(key, report, size, batch_id if named else None)
            if failure is not None:
                log.warning("landing_refused", batch=batch_id, node=report.node, job=report.job,
                            reason=failure)  # fmt: skip
        if failure is None:
            urls = self.ledger.done_and_settled(report, batch_id, self.url_retries)
            if urls is not None:
                log.info("batch_done", batch=batch_id, node=report.node, job=report.job,
                         items=report.items, pages=report.pages,
                         feed=report.feed.name if report.feed else None,
                         **{k: v for k, v in urls.items() if v})  # fmt: skip
                if (node := self.nodes.get(report.node)) is not None:
                    node.failures = 0
            self._wake()
        elif report.job == batch.job and batch.state in ACTIVE:
            self.fail(batch, failure, node_fault=False)
        return self.ledger.batch(batch_id).state

    def retry_urls(self, new_batch: Callable[[list[str]], Batch], limit: int) -> None:
        """URLs whose retry is due go into retry batches, away from the node they failed on."""
        due = self.ledger.urls.due(limit=limit)
        if not due:
            return
        batch = new_batch([url for url, _ in due])
        nodes = Counter(node for _, node in due if node)
        avoid = nodes.most_common(1)[0][0] if nodes else None
        self.avoid(batch.id, avoid)
        log.info("urls_retried", batch=batch.id, urls=len(due), avoid=avoid)
