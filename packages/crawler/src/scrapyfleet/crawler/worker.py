"""Worker side of the distributed middleware: crawl one batch, then report to the master.

scrapyd starts the job with spider arguments `batch`, `node`, `attempt` (and its own `_job`) and the
settings `DISTRIBUTED_MASTER_URL`, `DISTRIBUTED_TOKEN` and `FEEDS`. The batch's URLs are fetched
from the master, never passed on the command line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.spiders import CrawlSpider

from scrapyfleet.crawler.reports import WorkerReport

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
        self.fetch_error: str | None = None
        self._feeds_closed = asyncio.Event()
        crawler.signals.connect(self._feeds_closed.set, signals.feed_exporter_closed)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    async def _request(self, method: str, path: str = "", **kwargs: Any) -> Any:
        """One call to the master, retried with backoff on connection errors and 5xx."""
        url = self.url + path
        delay = 0.5
        for attempt in range(1, TRIES + 1):
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                    session.request(method, url, headers=self.headers, **kwargs) as resp,
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
            payload = await self._request("GET", params={"job": self.job})
            urls = [u for u in payload["urls"] if isinstance(u, str)]
        except (ConnectionError, aiohttp.ClientResponseError, KeyError, TypeError) as exc:
            self.fetch_error = str(exc) or type(exc).__name__
            log.error("batch_unavailable", batch=self.batch, reason=self.fetch_error)
            return
        log.info("batch_fetched", batch=self.batch, urls=len(urls), job=self.job)
        for url in urls:
            yield Request(
                url,
                callback=self.spider._callback,  # the rule's callback, as CrawlSpider routes it
                errback=self.spider._errback,
                meta={"rule": self.rule},
            )

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            await asyncio.wait_for(self._feeds_closed.wait(), FEED_CLOSE_TIMEOUT)
        except TimeoutError:
            log.error("feeds_not_closed", batch=self.batch, seconds=FEED_CLOSE_TIMEOUT)
        stats = self.crawler.stats
        assert stats is not None
        counters = stats.get_stats()
        stored = sum(v for k, v in counters.items() if k.startswith("feedexport/success_count/"))
        failed = sum(v for k, v in counters.items() if k.startswith("feedexport/failed_count/"))
        report = WorkerReport(
            job=self.job,
            node=self.node,
            attempt=self.attempt,
            items=int(counters.get("item_scraped_count", 0)),
            pages=int(counters.get("response_received_count", 0)),
            finish_reason="batch_unavailable" if self.fetch_error else reason,
            feed_ok=stored > 0 and failed == 0,
        )
        try:
            answer = await self._request("POST", "/report", json=report.to_json())
        except (ConnectionError, aiohttp.ClientResponseError) as exc:
            log.error("report_failed", batch=self.batch, reason=str(exc))
            return
        log.info("reported", batch=self.batch, state=answer.get("state"), **report.to_json())
