"""Worker side of the distributed middleware: crawl one batch attempt, then report to the master.

scrapyd starts the job with spider arguments `batch`, `node`, `attempt` (and its own `_job`) and the
settings `DISTRIBUTED_MASTER_URL`, `DISTRIBUTED_TOKEN` (this attempt's credential) and `FEEDS` (a
`fleet:` feed). The batch's URLs and the feed's destination are fetched from the master, never
passed on the command line. The report names the feed file and every URL that yielded no item
(`tracker.py`); docs/architecture.md, "Batch endpoint".
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.spiders import CrawlSpider

from scrapyfleet.crawler.feedstorage import set_destination, stored_feeds
from scrapyfleet.crawler.reports import FeedFile, WorkerReport
from scrapyfleet.crawler.tracker import UrlTracker

log = structlog.get_logger("scrapyfleet.crawler.worker")

TRIES = 5
FEED_CLOSE_TIMEOUT = 300.0


class WorkerSide:
    """Fetches the batch in `process_start`; reports the outcome once the feeds are stored."""

    def __init__(
        self, crawler: Crawler, spider: CrawlSpider, rule: int, master: str, token: str
    ) -> None:
        self.crawler = crawler
        self.spider = spider
        self.rule = rule
        self.batch: str = getattr(spider, "batch", "")
        self.job: str = getattr(spider, "_job", "") or ""
        self.node: str = getattr(spider, "node", "") or ""
        self.attempt = int(getattr(spider, "attempt", 0) or 0)
        self.url = f"{master.rstrip('/')}/batches/{self.batch}"
        self.headers = {"Authorization": f"Bearer {token}"}
        ca_file = crawler.settings.get("DISTRIBUTED_MASTER_CA_FILE")
        self.tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.fetch_error: str | None = None
        self.urls: list[str] = []
        self.tracker = UrlTracker(crawler)
        self.lines = 0
        self._feeds_closed = asyncio.Event()
        crawler.signals.connect(self._feeds_closed.set, signals.feed_exporter_closed)
        crawler.signals.connect(self._slot_closed, signals.feed_slot_closed)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    async def _request(self, method: str, path: str = "", **kwargs: Any) -> Any:
        """One call to the master, retried with backoff on connection errors and 5xx."""
        url = self.url + path
        delay = 0.5
        for attempt in range(1, TRIES + 1):
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                    session.request(
                        method, url, headers=self.headers, ssl=self.tls or True, **kwargs
                    ) as resp,
                ):
                    if resp.status < 500:
                        resp.raise_for_status()
                        return await resp.json()
                    reason = f"HTTP {resp.status}"
            except aiohttp.ClientResponseError:
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("master_call_failed", method=method, url=url, attempt=attempt,
                        reason=reason)  # fmt: skip
            if attempt < TRIES:
                await asyncio.sleep(delay)
                delay *= 2
        raise ConnectionError(reason)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The batch replaces the spider's own start requests."""
        try:
            payload = await self._request("GET", params={"job": self.job, **self._attempt()})
            self.urls = [u for u in payload["urls"] if isinstance(u, str)]
            set_destination(self.crawler, str(payload["feed"]))
        except (ConnectionError, aiohttp.ClientResponseError, KeyError, TypeError) as exc:
            self.fetch_error = str(exc) or type(exc).__name__
            log.error("batch_unavailable", batch=self.batch, reason=self.fetch_error)
            return
        log.info("batch_fetched", batch=self.batch, urls=len(self.urls), job=self.job)
        for url in self.urls:
            # The rule's callback, as CrawlSpider routes it; the tracker records final errors.
            yield self.tracker.request(
                url, self.spider._callback, self.spider._errback, rule=self.rule
            )

    def _attempt(self) -> dict[str, str]:
        return {"attempt": str(self.attempt)}

    def _slot_closed(self, slot: Any) -> None:
        self.lines += int(getattr(slot, "itemcount", 0))

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            await asyncio.wait_for(self._feeds_closed.wait(), FEED_CLOSE_TIMEOUT)
        except TimeoutError:
            log.error("feeds_not_closed", batch=self.batch, seconds=FEED_CLOSE_TIMEOUT)
        stats = self.crawler.stats
        assert stats is not None
        counters = stats.get_stats()
        stored = stored_feeds(self.crawler)
        failed = sum(v for k, v in counters.items() if k.startswith("feedexport/failed_count/"))
        failures = self.tracker.failures(self.urls)
        report = WorkerReport(
            job=self.job,
            node=self.node,
            attempt=self.attempt,
            items=int(counters.get("item_scraped_count", 0)),
            pages=int(counters.get("response_received_count", 0)),
            finish_reason="batch_unavailable" if self.fetch_error else reason,
            # A batch without a single item stores no feed: nothing to upload, nothing lost.
            feed_ok=failed == 0 and (bool(stored) or len(failures) == len(self.urls)),
            feed=FeedFile(stored[0].name, sum(f.bytes for f in stored), self.lines)
            if stored
            else None,
            failures=failures,
        )
        try:
            answer = await self._request(
                "POST", "/report", params=self._attempt(), json=report.to_json()
            )
        except (ConnectionError, aiohttp.ClientResponseError) as exc:
            log.error("report_failed", batch=self.batch, reason=str(exc))
            return
        log.info("reported", batch=self.batch, state=answer.get("state"), job=self.job,
                 attempt=self.attempt, items=report.items, pages=report.pages,
                 finish_reason=report.finish_reason, feed_ok=report.feed_ok,
                 not_landed=len(failures))  # fmt: skip
