"""Master side of the distributed middleware: divert the target's requests into batches.

Requests of the target (`diversion.py`) are de-duplicated by request fingerprint (against the
batch being collected and the ledger's, so also across `--resume`, with no set of every URL in
memory) and collected into batches of `DISTRIBUTED_BATCH_SIZE` URLs that the `Fleet` dispatches.
Everything else (the index crawl) passes through, with failed pages tried again
(`indexkeeper.py`). On spider close the partial batch is flushed; after a finished crawl the
master waits for every batch and URL to be settled and writes the run summary. `--resume` of a run
whose index crawl had finished crawls only its failed index pages and retries its failed URLs.

Over 250 lines on purpose: one Scrapy middleware's life cycle (divert, flush, close, wait for the
fleet, summary) kept in one object; its parts with a concern of their own are already outside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Self

import structlog
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler

from scrapyfleet.core.metrics import Address, Exporter, parse_address, start_exporter
from scrapyfleet.crawler.diversion import Diversion
from scrapyfleet.crawler.master.fleet import UNWRITABLE, Fleet
from scrapyfleet.crawler.master.fleetconfig import distributed_settings, fleet_config
from scrapyfleet.crawler.master.indexkeeper import IndexKeeper
from scrapyfleet.crawler.master.ledger import INDEX_DONE, LEDGER_NAME, Ledger
from scrapyfleet.crawler.master.progress import ProgressReporter
from scrapyfleet.crawler.master.prometheus import CrawlMetrics
from scrapyfleet.crawler.master.sites import Sites
from scrapyfleet.crawler.master.summary import write_summary
from scrapyfleet.crawler.sitegate import gate_state

log = structlog.get_logger("scrapyfleet.crawler.master.collector")

# Sent by crawl-master on SIGINT/SIGTERM: close the master spider (or stop waiting for the
# workers) and write the summary, so the run can be resumed.
interrupt = object()

ROUTE = "route"  # ledger meta: how workers parse the diverted requests (`diversion.route`)


class MasterSide:
    """The middleware instance on the master."""

    def __init__(
        self, crawler: Crawler, diversion: Diversion, fleet: Fleet, batch_size: int, first_size: int
    ) -> None:
        self.crawler = crawler
        self.diversion = diversion
        self.diverted = diversion.matcher()
        self.route = fleet.ledger.get_meta(ROUTE)
        self.other_routes: set[str] = set()
        self.fleet = fleet
        self.batch_size = batch_size
        # Batches start at `first_size` and double up to `batch_size`: the first items land
        # (and the first analytics table appears) early, later batches pay fewer process starts.
        self.next_size = first_size
        # The batch being collected, fingerprint -> URL: new to the run, and not yet looked up.
        self.pending: dict[bytes, str] = {}
        self.unchecked: dict[bytes, str] = {}
        self.started = time.time()
        self.keeper = IndexKeeper(crawler, fleet.ledger.urls, fleet.config.url_retries,
                                  self._unwritable)  # fmt: skip
        self._closing = False
        self._closer: asyncio.Future[None] | None = None
        self._interrupted = asyncio.Event()
        self._watch: asyncio.Future[None] | None = None
        self.metrics: CrawlMetrics | None = None
        self.exporter: Exporter | None = None
        self.linger = 0.0
        crawler.signals.connect(self.interrupt, interrupt)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler, diversion: Diversion) -> Self:
        config = fleet_config(crawler)
        ledger = Ledger(config.run_dir / LEDGER_NAME)
        s = distributed_settings(crawler.settings)
        batch_size = s.getint("DISTRIBUTED_BATCH_SIZE")
        first_size = s.getint("DISTRIBUTED_FIRST_BATCH_SIZE") or batch_size
        if not 1 <= first_size <= batch_size:
            raise ValueError("need 1 <= DISTRIBUTED_FIRST_BATCH_SIZE <= DISTRIBUTED_BATCH_SIZE")
        fleet = Fleet(config, ledger)
        fleet.sites, fleet.master_gate = Sites.from_settings(s), gate_state(crawler)
        mode = s.get("DISTRIBUTED_PROGRESS")
        if mode != "off":
            fleet.on_tick.append(ProgressReporter(rich_bar=mode == "bar"))
        side = cls(crawler, diversion, fleet, batch_size, first_size)
        if s.get("DISTRIBUTED_METRICS"):
            side.serve_metrics(parse_address(s.get("DISTRIBUTED_METRICS")),
                               s.getfloat("DISTRIBUTED_METRICS_LINGER"))  # fmt: skip
        return side

    def serve_metrics(self, where: Address, linger: float) -> None:
        """Serve the crawl's Prometheus metrics until `linger` seconds after the summary."""
        self.metrics = CrawlMetrics()
        self.exporter = start_exporter(where, self.metrics.registry)
        self.linger = linger
        self.fleet.on_tick.append(self.metrics)
        log.info("metrics_serving", url=self.exporter.url)

    def _fingerprint(self, request: Request) -> bytes:
        assert self.crawler.request_fingerprinter is not None
        return self.crawler.request_fingerprinter.fingerprint(request)

    async def spider_opened(self, spider: Spider) -> None:
        urls = self.fleet.ledger.urls
        known = sum(urls.counts().values())
        if known:
            retried = urls.retry_failed()
            log.info("resumed", run_dir=str(self.fleet.config.run_dir), urls=known,
                     batches=self.fleet.ledger.counts(), retried=retried)  # fmt: skip
        try:
            await self.fleet.start()
        except Exception as exc:  # the run cannot go on: end it with the reason, never hang
            self.fleet.outcome.fatal = f"start-up failed: {type(exc).__name__}: {exc}"
            log.error("startup_failed", reason=self.fleet.outcome.fatal)
            return
        self._watch = asyncio.ensure_future(self._stop_when_the_fleet_ends())

    async def _stop_when_the_fleet_ends(self) -> None:
        """A fleet that ended while the master still crawls (aborted: no usable node, or its run
        directory took no more) stops the master's crawl too: nothing would take its batches."""
        await self.fleet.wait()
        if not self._closing:
            self.interrupt()

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The spider's start requests; on resuming a run whose index crawl finished, only the
        index pages that failed."""
        ledger = self.fleet.ledger
        if self.fleet.outcome.fatal is not None:
            return  # the fleet did not start: nothing to crawl for
        if ledger.get_meta(INDEX_DONE) == "1":
            pages = [url for url, _ in ledger.urls.failed_index_pages()]
            ledger.urls.reset_index_attempts()
            log.info("index_resumed", failed_pages=len(pages))
            for url in pages:
                yield self.keeper.wrap(Request(url, dont_filter=True))
            return
        async for request in start:
            yield self.keeper.wrap(request) if isinstance(request, Request) else request

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        spider = self.crawler.spider
        assert spider is not None
        async for output in result:
            if not isinstance(output, Request):
                yield output
            elif (taken := self.diverted(output, spider)) and self._routed(taken, output.url):
                self._collect(output)
            else:
                yield self.keeper.wrap(output)

    def _routed(self, taken: str, url: str) -> bool:
        """Whether a diverted request takes the run's route (the first one's): workers parse
        every batch URL one way; a request of another route is crawled here."""
        if self.route is None:
            self.route = taken
            try:
                self.fleet.ledger.set_meta(ROUTE, taken)
            except UNWRITABLE as exc:
                self._unwritable(exc)
            log.info("diverting", target=self.diversion.setting, route=taken)
        if taken == self.route:
            return True
        if taken not in self.other_routes:
            self.other_routes.add(taken)
            why = "the target matched a request parsed another way: crawled here"
            log.warning("not_diverted", url=url, route=taken, run_route=self.route, why=why)
        return False

    def _collect(self, request: Request) -> None:
        fingerprint = self._fingerprint(request)
        if fingerprint in self.pending or fingerprint in self.unchecked:
            return
        self.unchecked[fingerprint] = request.url
        if len(self.pending) + len(self.unchecked) >= self.next_size:
            self._flush(whole=True)

    def _flush(self, whole: bool = False) -> None:
        """The collected URLs the ledger does not know yet into a batch (when `whole`, only
        once they fill one); one lookup in the ledger for all those collected since the last."""
        if self.fleet.unwritable:
            return
        try:
            known = self.fleet.ledger.urls.known(self.unchecked)
            self.pending.update((fp, url) for fp, url in self.unchecked.items() if fp not in known)
            self.unchecked = {}
            if not self.pending or (whole and len(self.pending) < self.next_size):
                return
            self.fleet.add_batch(list(self.pending.values()), list(self.pending))
        except UNWRITABLE as exc:  # not in the ledger: a resumed run collects them again
            self._unwritable(exc)
            return
        self.pending = {}
        self.next_size = min(self.batch_size, self.next_size * 2)

    def _unwritable(self, exc: Exception) -> None:
        """The ledger takes no more: the run ends on that fatal error (`--resume` goes on)."""
        self.fleet.cannot_write(exc)
        self.interrupt()

    def interrupt(self) -> None:
        """Stop crawling (or waiting) now; the ledger keeps what is left for --resume."""
        self._interrupted.set()
        if not self._closing:
            assert self.crawler.engine is not None
            self._closer = asyncio.ensure_future(
                self.crawler.engine.close_spider_async(reason="shutdown")
            )

    async def _wait_unless_interrupted(self) -> str:
        """Wait for every batch to settle; "shutdown" if interrupted first."""
        done = asyncio.ensure_future(self.fleet.wait())
        stop = asyncio.ensure_future(self._interrupted.wait())
        await asyncio.wait({done, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (done, stop):
            task.cancel()
        return "shutdown" if self._interrupted.is_set() else "finished"

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        self._closing = True
        self._flush()
        self.keeper.cancel()
        if reason == "finished" and self.fleet.outcome.fatal is None:
            try:
                self.fleet.ledger.set_meta(INDEX_DONE, "1")
            except UNWRITABLE as exc:
                self.fleet.cannot_write(exc)
            self.fleet.close_intake()
            reason = await self._wait_unless_interrupted()
        if reason != "finished":
            log.warning("master_interrupted", reason=reason,
                        resume=f"crawl-master --resume {self.fleet.config.run_dir}")  # fmt: skip
        await self.fleet.stop()
        for listener in self.fleet.on_tick:
            if isinstance(listener, ProgressReporter):
                listener.close()
        stats = self.crawler.stats
        master_pages = int(stats.get_value("response_received_count", 0)) if stats else 0
        summary = write_summary(self.fleet, reason, time.time() - self.started, master_pages)
        if self.metrics is not None:
            self.metrics.finish(self.fleet.snapshot(), summary)
        self.fleet.ledger.close()
        if self.exporter is not None:
            await self._linger()

    async def _linger(self) -> None:
        """Keep serving the final metrics a while, so that scrapers see how the run ended
        (a second SIGINT/SIGTERM cuts it short)."""
        assert self.exporter is not None
        log.info("metrics_linger", seconds=self.linger, url=self.exporter.url)
        self._interrupted.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._interrupted.wait(), self.linger)
        self.exporter.close()
