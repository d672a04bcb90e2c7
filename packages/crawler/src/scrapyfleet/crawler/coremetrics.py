"""Core metrics: the book's chapter-10 view of where requests and items are, logged periodically.

Every `CORE_METRICS_INTERVAL` seconds (`SPEED_CORE_METRICS_INTERVAL` is the book's alias and wins
when set; 0 disables) the extension logs a structlog `core_metrics` event with the scheduler queue,
the downloader's active requests, the responses in the scraper, the items in the pipelines, the
items done and the scraper's response memory. With `CORE_METRICS_TABLE` it also prints the
book's table (s/edule, d/load, scrape, p/line, done, mem) on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Sized
from typing import TYPE_CHECKING, Any, Self, TextIO

import structlog
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

log = structlog.get_logger(__name__)

COLUMNS = ("s/edule", "d/load", "scrape", "p/line", "done", "mem")
FIELDS = ("scheduler", "downloader", "scraper", "pipeline", "done", "memory")
DEFAULT_INTERVAL = 5.0


def snapshot(crawler: Crawler) -> dict[str, int]:
    """The engine's state now: where requests, responses and items are (zeros once closed)."""
    engine = crawler.engine
    scheduler = engine.scheduler if engine is not None else None
    slot = engine.scraper.slot if engine is not None else None
    stats = crawler.stats
    return {
        # Scrapy's BaseScheduler declares no __len__; its default Scheduler has one.
        "scheduler": len(scheduler) if isinstance(scheduler, Sized) else 0,
        "downloader": len(engine.downloader.active) if engine is not None else 0,
        "scraper": len(slot.active) if slot is not None else 0,
        "pipeline": slot.itemproc_size if slot is not None else 0,
        "done": int(stats.get_value("item_scraped_count", 0)) if stats is not None else 0,
        "memory": slot.active_size if slot is not None else 0,
    }


def table_header() -> str:
    """The book's header line."""
    return ("%8s" * 5 + "%10s") % COLUMNS


def table_row(values: dict[str, int]) -> str:
    """One line of the book's table for a snapshot."""
    return ("%8d" * 5 + "%10d") % tuple(values[f] for f in FIELDS)


def interval_from(settings: BaseSettings) -> float:
    """`SPEED_CORE_METRICS_INTERVAL` when set, else `CORE_METRICS_INTERVAL` (default 5 s)."""
    if settings.get("SPEED_CORE_METRICS_INTERVAL") is not None:
        return settings.getfloat("SPEED_CORE_METRICS_INTERVAL")
    return settings.getfloat("CORE_METRICS_INTERVAL", DEFAULT_INTERVAL)


class CoreMetrics:
    """Scrapy extension logging `snapshot()` every interval and once more at close."""

    def __init__(
        self, crawler: Crawler, interval: float, table: bool, out: TextIO | None = None
    ) -> None:
        self.crawler = crawler
        self.interval = interval
        self.table = table
        self.out = out if out is not None else sys.stdout
        self.task: Any = None
        self._header_printed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = interval_from(crawler.settings)
        if interval <= 0:
            raise NotConfigured("core metrics disabled (interval 0)")
        ext = cls(crawler, interval, crawler.settings.getbool("CORE_METRICS_TABLE"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.task = create_looping_call(self.log)
        self.task.start(self.interval)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.log()

    def log(self) -> dict[str, int]:
        """Log (and print, with the table on) the current snapshot; return it."""
        values = snapshot(self.crawler)
        spider = getattr(self.crawler, "spider", None)
        log.info("core_metrics", spider=getattr(spider, "name", None), **values)
        if self.table:
            if not self._header_printed:
                print(table_header(), file=self.out)
                self._header_printed = True
            print(table_row(values), file=self.out, flush=True)
        return values
