"""`easy`: the book's CrawlSpider over the demo site's index and property pages."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.spiders import CrawlSpider, Rule

from scrapyfleet.core.contracts import ItemLine
from scrapyfleet.crawler import settings as defaults
from scrapyfleet.crawler.parsing import parse_price
from scrapyfleet.crawler.spiders.links import HrefLinks


class EasySpider(CrawlSpider):
    """Index pages split into SHARDS evenly spaced chains; rule 0 follows `next`, rule 1 items.

    Spider arguments / settings: `site` (SITE_URL), `shards` (SHARDS) and `index_pages`
    (SITE_INDEX_PAGES), defaults in the project's settings module. The page count only spaces the
    shards: every chain follows `next` links until it meets pages already seen, so a wrong guess
    costs parallelism, never coverage.
    """

    name = "easy"
    rules = (
        Rule(HrefLinks('//*[contains(@class,"next")]')),
        Rule(HrefLinks('//*[@itemprop="url"]'), callback="parse_item"),
    )
    batch = ""
    node = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node = self.node or socket.gethostname()

    def _setting(self, attr: str, setting: str) -> Any:
        """The spider argument `attr`, else the setting, else the project's default for it."""
        return getattr(self, attr, None) or self.settings.get(setting) or getattr(defaults, setting)

    def index_urls(self) -> list[str]:
        """The first page of every shard."""
        site = str(self._setting("site", "SITE_URL")).rstrip("/")
        shards = int(self._setting("shards", "SHARDS"))
        pages = int(self._setting("index_pages", "SITE_INDEX_PAGES"))
        starts = sorted({pages * k // shards for k in range(max(shards, 1))})
        return [f"{site}/properties/index_{page:05d}.html" for page in starts]

    async def start(self) -> AsyncIterator[Request]:
        for url in self.index_urls():
            yield Request(url)

    def parse_item(self, response: Response) -> ItemLine:
        """One listing page -> one item line (`core.contracts.ItemLine`)."""
        title = response.xpath('//*[@itemprop="name"][1]/text()').get(default="")
        price = response.xpath('//*[@itemprop="price"][1]/text()').get()
        image = response.xpath('//*[@itemprop="image"][1]/@src').get(default="")
        address = response.xpath('//*[@itemtype="http://schema.org/Place"][1]//text()').getall()
        description = response.xpath('//*[@itemprop="description"][1]//text()').getall()
        return ItemLine(
            url=response.url,
            title=title.strip(),
            price=parse_price(price),
            description=" ".join(t.strip() for t in description if t.strip()),
            address=" ".join(t.strip() for t in address if t.strip()),
            image=response.urljoin(image) if image else "",
            spider=self.name,
            node=self.node,
            batch=self.batch,
            crawled_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
