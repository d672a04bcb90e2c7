"""The book's `speed` spider: crawls the demo site's benchmark pages, shaped by `SPEED_*` settings.

Start styles (`SPEED_START_REQUESTS_STYLE`): `Force` feeds every detail request straight into the
scheduler, `Iterate` yields them on demand, `UseIndex` crawls index pages (`SPEED_INDEX_SHARDS`
starting points) and follows their detail and next-index links.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

from scrapyfleet.crawler.speedlab import knobs

STYLES = ("Force", "UseIndex", "Iterate")
_NUMBER = re.compile(r"\d+")


class SpeedSpider(Spider):
    name = "speed"
    custom_settings = {  # noqa: RUF012 (Scrapy reads a plain dict)
        "ITEM_PIPELINES": {"scrapyfleet.crawler.speedlab.pipeline.SpeedPipeline": 100},
        "EXTENSIONS": {"scrapyfleet.crawler.coremetrics.CoreMetrics": 500},
        "CORE_METRICS_INTERVAL": 1.0,
        "CORE_METRICS_TABLE": True,
        # The book's model: one site, no per-domain limit, no retries or redirects.
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1_000_000,
        "RETRY_ENABLED": False,
        "REDIRECT_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 15,
    }
    base: str
    total_items: int
    items_per_detail: int
    details_per_index: int
    style: str
    shards: int
    index_priority: int
    index_rule_last: bool
    blocking_delay: float

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.base = knobs.benchmark_url(settings)
        spider.total_items = settings.getint("SPEED_TOTAL_ITEMS", knobs.TOTAL_ITEMS)
        spider.items_per_detail = settings.getint("SPEED_ITEMS_PER_DETAIL", knobs.ITEMS_PER_DETAIL)
        spider.details_per_index = settings.getint(
            "SPEED_DETAILS_PER_INDEX_PAGE", knobs.DETAILS_PER_INDEX_PAGE
        )
        spider.style = settings.get("SPEED_START_REQUESTS_STYLE", "Force")
        if spider.style not in STYLES:
            raise ValueError(
                f"SPEED_START_REQUESTS_STYLE must be one of {STYLES}: {spider.style!r}"
            )
        spider.shards = max(1, settings.getint("SPEED_INDEX_SHARDS", 1))
        spider.index_priority = 1 if settings.getbool("SPEED_INDEX_HIGHER_PRIORITY") else 0
        spider.index_rule_last = settings.getbool("SPEED_INDEX_RULE_LAST")
        spider.blocking_delay = settings.getfloat("SPEED_SPIDER_BLOCKING_DELAY", 0.0)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.style == "Force":
            assert self.crawler.engine is not None
            for request in self.detail_requests():
                self.crawler.engine.crawl(request)
        elif self.style == "Iterate":
            for request in self.detail_requests():
                yield request
        else:
            for page in self.shard_starts():
                yield self.index_request(self.base + f"index?p={page}")

    def detail_requests(self) -> Iterator[Request]:
        for first in range(1, self.total_items + 1, self.items_per_detail):
            yield Request(self.base + f"detail?id0={first}", callback=self.parse_item)

    def shard_starts(self) -> range:
        """First index page of each of `SPEED_INDEX_SHARDS` equal runs of index pages."""
        pages = knobs.index_pages(self.total_items, self.details_per_index, self.items_per_detail)
        return range(1, pages + 1, -(-pages // self.shards))

    def index_request(self, url: str) -> Request:
        return Request(url, callback=self.parse_index, priority=self.index_priority)

    def parse_index(self, response: Response) -> Iterator[Request]:
        """Follow next-index (`a.nav`) and detail (`a.item`) links; the order is a knob."""
        nav = (
            self.index_request(response.urljoin(u))
            for u in response.css("a.nav::attr(href)").getall()
        )
        details = response.follow_all(
            response.css("a.item::attr(href)").getall(), callback=self.parse_item
        )
        first, last = (details, nav) if self.index_rule_last else (nav, details)
        yield from first
        yield from last

    def parse_item(self, response: Response) -> Iterator[dict[str, Any]]:
        if self.blocking_delay > 0:
            time.sleep(self.blocking_delay)  # the book's "bad bad thing", on purpose
        for li in response.css("li"):
            number = _NUMBER.search(li.css("h3::text").get(""))
            if number is None:
                self.crawler.stats.inc_value("speed/malformed_items")
                continue
            yield {"id": int(number.group()), "info": li.css(".info::text").get("")}
