"""One feed file per batch in a worker job that crawls several (`leases.py`).

Scrapy's FeedExporter writes one file per feed and spider run; its item-count rotation
(`FEED_EXPORT_BATCH_ITEM_COUNT`) cuts by items, not by batch. A job that finished a batch closes
the exporter's slots with the exporter's own `close_spider` (store the files, then the
`feed_exporter_closed` signal) and, for the next batch, opens fresh ones with its `open_spider`
(the `%(batch)s` of the name is the spider's new batch). Between two batches the spider is idle:
no item can fall between them. docs/architecture.md, "Batch endpoint".
"""

from __future__ import annotations

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FeedExporter


def exporter(crawler: Crawler) -> FeedExporter | None:
    """The crawler's FeedExporter (None without FEEDS)."""
    assert crawler.extensions is not None
    for extension in crawler.extensions.middlewares:
        if isinstance(extension, FeedExporter):
            return extension
    return None


async def close_feeds(crawler: Crawler, spider: Spider) -> None:
    """Store this batch's feed files; the spider's own close then has none left to store."""
    feeds = exporter(crawler)
    if feeds is not None:
        await feeds.close_spider(spider)
        feeds.slots = []


def open_feeds(crawler: Crawler, spider: Spider) -> None:
    """Start this batch's feed files (named after `spider.batch`)."""
    feeds = exporter(crawler)
    if feeds is not None:
        feeds.open_spider(spider)
