"""DistributedMiddleware: the book's spider middleware that spreads one CrawlSpider rule over
scrapyd nodes. Enabled by settings, for any CrawlSpider:

- `DISTRIBUTED_TARGET_RULE`: index of the rule whose requests are distributed (required).
- master (when `DISTRIBUTED_TARGET_HOSTS` is set): those requests are not crawled; their URLs
  become batches of `DISTRIBUTED_BATCH_SIZE`, dispatched by a `Fleet` (see `collector.py`).
- worker (when the spider got a `batch` argument, as scrapyd jobs of the master do): the batch's
  URLs, fetched from the master, are the start requests, routed to the target rule's callback;
  the feed goes to `DISTRIBUTED_TARGET_FEED_URL` (passed by the master as `FEEDS`).
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.spiders import CrawlSpider

from scrapyfleet.core.logs import route_structlog_to_stdlib
from scrapyfleet.crawler.master.collector import MasterSide
from scrapyfleet.crawler.worker.side import WorkerSide


class DistributedMiddleware:
    """Picks the side of this process; the instance Scrapy gets is that side's middleware."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MasterSide | WorkerSide:
        settings = crawler.settings
        rule = settings.getint("DISTRIBUTED_TARGET_RULE", -1)
        if rule < 0:
            raise NotConfigured("DISTRIBUTED_TARGET_RULE is not set")
        spider = crawler.spider
        if not isinstance(spider, CrawlSpider):
            raise NotConfigured("DISTRIBUTED_TARGET_RULE names a rule of a CrawlSpider")
        route_structlog_to_stdlib()
        if getattr(spider, "batch", ""):
            master = settings.get("DISTRIBUTED_MASTER_URL")
            token = settings.get("DISTRIBUTED_TOKEN")
            if not master or not token:
                raise NotConfigured("worker needs DISTRIBUTED_MASTER_URL and DISTRIBUTED_TOKEN")
            return WorkerSide(crawler, spider, rule, master, token)
        if settings.getlist("DISTRIBUTED_TARGET_HOSTS"):
            return MasterSide.from_crawler(crawler, rule)
        raise NotConfigured("neither a worker (no batch argument) nor a master (no target hosts)")
