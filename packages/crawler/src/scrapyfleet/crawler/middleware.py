"""DistributedMiddleware: the book's spider middleware that spreads a spider's detail requests
over scrapyd nodes, for any spider (installed by the fleet add-on, or on its own in
`SPIDER_MIDDLEWARES`):

- master (when `DISTRIBUTED_TARGET_HOSTS` and one target, `diversion.py`, are set): the target's
  requests are not crawled; their URLs become batches of `DISTRIBUTED_BATCH_SIZE`, dispatched
  over the nodes (`master/collector.py`).
- worker (a job of the master: the spider got a `batch` argument and the settings
  `DISTRIBUTED_MASTER_URL`, `DISTRIBUTED_TOKEN`, `DISTRIBUTED_ROUTE`): the batch's URLs, fetched
  from the master, are the start requests, parsed as the master's diverted requests would have
  been (`worker/side.py`).

Anything else (a plain `scrapy crawl`) leaves it out.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from scrapyfleet.core.logs import route_structlog_to_stdlib
from scrapyfleet.crawler.diversion import Diversion
from scrapyfleet.crawler.master.collector import MasterSide
from scrapyfleet.crawler.worker.side import WorkerSide


class DistributedMiddleware:
    """Picks the side of this process; the instance Scrapy gets is that side's middleware."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MasterSide | WorkerSide:
        settings = crawler.settings
        spider = crawler.spider
        assert spider is not None, "spider middlewares are built for a running spider"
        if getattr(spider, "batch", ""):
            master = settings.get("DISTRIBUTED_MASTER_URL")
            token = settings.get("DISTRIBUTED_TOKEN")
            route = settings.get("DISTRIBUTED_ROUTE")
            if not master or not token or not route:
                raise NotConfigured(
                    "a worker needs DISTRIBUTED_MASTER_URL, DISTRIBUTED_TOKEN, DISTRIBUTED_ROUTE"
                )
            route_structlog_to_stdlib()
            return WorkerSide(crawler, spider, route, master, token)
        diversion = Diversion.from_settings(settings)
        if settings.getlist("DISTRIBUTED_TARGET_HOSTS") and diversion is not None:
            route_structlog_to_stdlib()
            return MasterSide.from_crawler(crawler, diversion)
        raise NotConfigured("neither a worker (no batch) nor a master (no target hosts/target)")
