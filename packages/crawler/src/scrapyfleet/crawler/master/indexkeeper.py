"""The master's own index crawl loses nothing: failed index pages are tried again.

Every request of the master's index crawl (start requests and the links it follows, but not the
diverted detail pages) gets an errback: once Scrapy's immediate retries are spent, a transient
failure (5xx, 429, timeouts, connection errors) is tried again by the detail pages' rule
(`retrywindow.RetryRule`: backoff until its attempts or its retry window are spent), and its
shard's `next` chain carries on when it succeeds. The spider stays open while retries wait. Each
index page's fate is kept in the ledger (`UrlBook`), so the summary can say which pages the run
could not read and `--resume` can try exactly those again. A ledger that takes no more (disk
full) goes to `unwritable`, never into Scrapy's signal or errback logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapyfleet.crawler.master.fleet import UNWRITABLE
from scrapyfleet.crawler.master.urlbook import UrlBook
from scrapyfleet.crawler.outcomes import UrlFailure, describe
from scrapyfleet.crawler.retrywindow import RetryRule

log = structlog.get_logger("scrapyfleet.crawler.master.indexkeeper")

INDEX_URL = "scrapyfleet_index_url"


class IndexKeeper:
    """Retries failed index pages of the master's crawl and records their outcome."""

    def __init__(
        self,
        crawler: Crawler,
        book: UrlBook,
        rule: RetryRule,
        unwritable: Callable[[Exception], None],
    ) -> None:
        self.crawler = crawler
        self.book = book
        self.rule = rule
        self.unwritable = unwritable
        self.waiting: set[asyncio.Task[None]] = set()
        crawler.signals.connect(self.response_received, signals.response_received)
        crawler.signals.connect(self.spider_idle, signals.spider_idle)

    def wrap(self, request: Request) -> Request:
        """`request` with an errback that records its failure and schedules a retry."""
        if INDEX_URL in request.meta:
            return request
        original: Callable[[Failure], Any] | None = request.errback
        url = request.url

        def failed(failure: Failure) -> Any:
            self._failed(describe(url, failure), failure.request)  # type: ignore[attr-defined]
            return original(failure) if original is not None else None

        return request.replace(errback=failed, meta={**request.meta, INDEX_URL: url})

    def _failed(self, failure: UrlFailure, request: Request) -> None:
        now = time.time()
        try:
            retry_at, reason = self.book.index_failed(failure, self.rule, now)
        except UNWRITABLE as exc:
            self.unwritable(exc)
            return
        if retry_at is None:
            log.error("index_page_failed", url=failure.url, reason=reason)
            return
        delay = retry_at - now
        log.warning("index_page_retry", url=failure.url, reason=failure.reason,
                    delay=round(delay, 2))  # fmt: skip
        task = asyncio.ensure_future(self._retry(request.replace(dont_filter=True), delay))
        self.waiting.add(task)
        task.add_done_callback(self.waiting.discard)

    async def _retry(self, request: Request, delay: float) -> None:
        await asyncio.sleep(delay)
        engine = self.crawler.engine
        if engine is not None and engine.running:
            engine.crawl(request)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        url = request.meta.get(INDEX_URL)
        if url is not None and 200 <= response.status < 300:
            try:
                self.book.index_ok(url)
            except UNWRITABLE as exc:
                self.unwritable(exc)

    def spider_idle(self, spider: Spider) -> None:
        """Keep the master's spider open while an index page waits for its retry."""
        if self.waiting:
            raise DontCloseSpider

    def cancel(self) -> None:
        """Drop waiting retries (the run is interrupted; `--resume` tries them again)."""
        for task in self.waiting:
            task.cancel()
