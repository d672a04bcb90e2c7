"""Worker side of the distributed middleware: crawl batch after batch in one job, report each.

scrapyd starts the job with spider arguments `batch`, `node`, `attempt` (and its own `_job`) and the
settings `DISTRIBUTED_MASTER_URL` and `FEEDS` (a `fleet:` feed): nothing secret. The first fetch
proves the attempt (`jobproof.py`: an HMAC under the node's SCRAPYD_PASSWORD from the job's
environment; a claim on a node without auth) and gets the batch's URLs, the feed's destination and
the attempt's credential, which the job's other calls bear. When the spider runs idle the batch
is over: its feed file is stored (`batchfeeds.py`), the batch reported (naming the feed file and
every URL that yielded no item, `tracker.py`, `batchreport.py`), and with
`DISTRIBUTED_KEEP_WORKERS` the job takes its next lease and crawls it in the same process
(`leaseclient.py`, `leases.py`); it ends when the master has no more work. While it holds a lease
it renews it, and each renewal carries its word on the sites it crawls and brings back the master's
orders for them, which its site gate obeys (`sitegate.py`). docs/architecture.md, "Batch endpoint".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import structlog
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.spiders import CrawlSpider

from scrapyfleet.crawler.contract import BatchGrant
from scrapyfleet.crawler.jobproof import PASSWORD_ENV, job_proof
from scrapyfleet.crawler.sitegate import gate_state
from scrapyfleet.crawler.worker.batchfeeds import close_feeds, open_feeds
from scrapyfleet.crawler.worker.batchreport import Lease, build_report, counters
from scrapyfleet.crawler.worker.feedstorage import FeedHolder, FleetFeeds
from scrapyfleet.crawler.worker.leaseclient import CALL_ERRORS, next_lease, renew
from scrapyfleet.crawler.worker.masterclient import MasterClient
from scrapyfleet.crawler.worker.tracker import Errback, UrlTracker

log = structlog.get_logger("scrapyfleet.crawler.worker")

FEED_CLOSE_TIMEOUT = 300.0


def parse_route(
    spider: Spider, route: str
) -> tuple[Callable[..., Any], Errback | None, dict[str, Any]]:
    """The callback, errback and meta of a batch URL's request, from the master's
    `DISTRIBUTED_ROUTE` (`rule:N`: as CrawlSpider routes rule N; `callback:NAME`: that method)."""
    kind, _, value = route.partition(":")
    if kind == "rule" and isinstance(spider, CrawlSpider):
        return spider._callback, spider._errback, {"rule": int(value)}
    method = getattr(spider, value, None) if kind == "callback" else None
    if not callable(method):
        raise NotConfigured(f"DISTRIBUTED_ROUTE {route!r} does not fit spider {spider.name!r}")
    return method, None, {}


class WorkerSide(FeedHolder):
    """Fetches the first batch in `process_start`; turns over batches whenever the spider idles."""

    def __init__(self, crawler: Crawler, spider: Spider, route: str, master: str) -> None:
        self.crawler, self.spider = crawler, spider
        self.feeds = FleetFeeds()
        self.callback, self.errback, self.meta = parse_route(spider, route)
        self.job: str = getattr(spider, "_job", "") or ""
        self.node: str = getattr(spider, "node", "") or ""
        attempt = int(getattr(spider, "attempt", 0) or 0)
        self.lease = Lease(getattr(spider, "batch", ""), attempt, "", [])
        self.keep = crawler.settings.getbool("DISTRIBUTED_KEEP_WORKERS")
        self.client = MasterClient(master, crawler.settings.get("DISTRIBUTED_MASTER_CA_FILE"))
        self.fetch_error: str | None = None
        self.tracker = UrlTracker(crawler)
        self.gate = gate_state(crawler)
        self.lines = 0
        self._base: dict[str, int] = {}
        self._turn: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._ended = False
        self._feeds_closed = asyncio.Event()
        crawler.signals.connect(self._feeds_closed.set, signals.feed_exporter_closed)
        crawler.signals.connect(self._slot_closed, signals.feed_slot_closed)
        crawler.signals.connect(self.idle, signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The first batch replaces the spider's own start requests."""
        lease = self.lease
        password = os.environ.get(PASSWORD_ENV)
        proof = job_proof(password, lease.batch, lease.attempt, self.job) if password else None
        try:
            answer = await self.client.call("GET", lease.batch, "", proof,
                                            params={"job": self.job, **lease.params})  # fmt: skip
            grant = BatchGrant.from_json(answer)
            if grant.credential is None:
                raise ValueError("a batch needs its attempt's credential")
            lease.urls, lease.timeout = grant.urls, grant.lease_timeout
            lease.credential, lease.sites = grant.credential, grant.sites or {}
            self.feeds.go_to(grant.feed)
        except CALL_ERRORS as exc:
            self.fetch_error = str(exc) or type(exc).__name__
            log.error("batch_unavailable", batch=lease.batch, reason=self.fetch_error)
            return
        self._begin(lease)
        for request in self._requests():
            yield request

    def _begin(self, lease: Lease) -> None:
        """Start counting, tracking and renewing `lease`."""
        self.lease, self.lines = lease, 0
        self._base = counters(self.crawler, self.feeds)
        self.tracker.reset()
        self._feeds_closed.clear()
        self.gate.obey(lease.sites)  # the batch starts within its share
        if lease.timeout:
            self._renewer = asyncio.ensure_future(renew(self.client, lease, self.gate))
        log.info("batch_fetched", batch=lease.batch, urls=len(lease.urls), job=self.job,
                 attempt=lease.attempt)  # fmt: skip

    def _requests(self) -> Iterator[Request]:
        for url in self.lease.urls:
            # Parsed as on the master; the tracker records final errors.
            yield self.tracker.request(url, self.callback, self.errback, **self.meta)

    def idle(self, spider: Spider) -> None:
        """The batch is over: report it and take the next one (the spider stays open)."""
        if self._ended:
            return
        if self._turn is None:
            self._turn = asyncio.ensure_future(self._turn_over())
        raise DontCloseSpider

    async def _turn_over(self) -> None:
        try:
            await close_feeds(self.crawler, self.spider)
            accepted = await self._report("batch_unavailable" if self.fetch_error else "finished")
            more = accepted and self.keep and not self.fetch_error
            got = await next_lease(self.client, self.lease, self.job) if more else None
        except Exception:
            log.exception("turn_over_failed", batch=self.lease.batch)
            got = None
        if got is None:
            self._ended = True
            assert self.crawler.engine is not None
            await self.crawler.engine.close_spider_async(reason="finished")
            return
        lease, destination = got
        self.feeds.go_to(destination)
        self._begin(lease)
        self.spider.batch = lease.batch  # type: ignore[attr-defined]  # items and feed name
        open_feeds(self.crawler, self.spider)
        assert self.crawler.engine is not None
        for request in self._requests():
            self.crawler.engine.crawl(request)
        self._turn = None

    def _slot_closed(self, slot: Any) -> None:
        self.lines += int(getattr(slot, "itemcount", 0))

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        """Stopped in the middle of a batch (e.g. scrapyd cancelled the job): report it. The
        master client's session ends here either way."""
        try:
            if self.lease.reported or self._ended:
                return
            try:
                await asyncio.wait_for(self._feeds_closed.wait(), FEED_CLOSE_TIMEOUT)
            except TimeoutError:
                log.error("feeds_not_closed", batch=self.lease.batch, seconds=FEED_CLOSE_TIMEOUT)
            await self._report("batch_unavailable" if self.fetch_error else reason)
        finally:
            await self.client.close()

    async def _report(self, finish_reason: str) -> bool:
        """Report the current lease; whether the master accepted it."""
        lease = self.lease
        lease.reported = True
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        report = build_report(self.crawler, self.feeds, self._base, lease, (self.job, self.node),
                              self.tracker, self.lines, finish_reason)  # fmt: skip
        try:
            answer = await self.client.call("POST", lease.batch, "/report", lease.credential,
                                            params=lease.params, json=report.to_json())  # fmt: skip
        except (ConnectionError, aiohttp.ClientResponseError, ValueError) as exc:
            log.error("report_failed", batch=lease.batch, reason=str(exc))
            return False
        log.info("reported", batch=lease.batch, state=answer.get("state"), job=self.job,
                 attempt=lease.attempt, items=report.items, pages=report.pages,
                 finish_reason=finish_reason, feed_ok=report.feed_ok,
                 not_landed=len(report.failures))  # fmt: skip
        return bool(answer.get("state") == "done")
