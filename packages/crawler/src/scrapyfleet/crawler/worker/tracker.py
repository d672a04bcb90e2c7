"""What a worker got from each URL of its batch, from Scrapy's own signals and errbacks.

Each batch request carries its batch URL in `meta[BATCH_URL]` (kept across redirects). A URL
whose response produced an item is landed once the feed is stored; a final error (after Scrapy's
own retries) is recorded by the request's errback: HTTP 404/410 `gone`, other statuses and
download exceptions `failed` (transient or not, see `outcomes.py`); a 2xx answer without an item
is `no_item`; a URL whose site the run gave up (`sitegate.py`) `failed`, "site down"; a URL with
no answer at all (the job was stopped first) `failed`, transient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapyfleet.crawler.outcomes import UrlFailure, describe
from scrapyfleet.crawler.sitegate import SITE_DOWN, SiteDown

BATCH_URL = "scrapyfleet_batch_url"
Errback = Callable[[Failure], Any]


class UrlTracker:
    """Collects per-URL results of the worker's current batch."""

    def __init__(self, crawler: Crawler) -> None:
        self.answered: set[str] = set()
        self.with_item: set[str] = set()
        self.failed: dict[str, UrlFailure] = {}
        crawler.signals.connect(self.response_received, signals.response_received)
        crawler.signals.connect(self.item_scraped, signals.item_scraped)

    def reset(self) -> None:
        """Forget the last batch: the job takes its next one (`leases.py`)."""
        self.answered.clear()
        self.with_item.clear()
        self.failed.clear()

    def request(
        self, url: str, callback: Callable[..., Any], errback: Errback | None, **meta: Any
    ) -> Request:
        """The request for one batch URL; its final error is recorded, then `errback` runs."""

        def record(failure: Failure) -> Any:
            self.record_error(url, failure)
            return errback(failure) if errback is not None else None

        # Not filtered: the master deduplicates, and a job that keeps its process may be given a
        # URL again (a retry batch) that its scheduler's dupefilter saw in an earlier batch.
        return Request(url, callback=callback, errback=record, meta={BATCH_URL: url, **meta},
                       dont_filter=True)  # fmt: skip

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        url = request.meta.get(BATCH_URL)
        if url is not None and 200 <= response.status < 300:
            self.answered.add(url)

    def item_scraped(self, item: Any, response: Response, spider: Spider) -> None:
        url = response.meta.get(BATCH_URL) if response is not None else None
        if url is not None:
            self.with_item.add(url)

    def record_error(self, url: str, failure: Failure) -> None:
        if isinstance(failure.value, SiteDown):  # given up by the run: `--resume` tries again
            self.failed[url] = UrlFailure(url, "failed", SITE_DOWN)
        else:
            self.failed[url] = describe(url, failure)

    def failures(self, urls: Iterable[str]) -> list[UrlFailure]:
        """Every URL of the batch that did not yield an item, with why."""
        result = []
        for url in urls:
            if url in self.with_item:
                continue
            if url in self.failed:
                result.append(self.failed[url])
            elif url in self.answered:
                result.append(UrlFailure(url, "no_item", "the page produced no item"))
            else:
                result.append(UrlFailure(url, "failed", "never answered", transient=True))
        return result
