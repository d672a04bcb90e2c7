"""CoreMetrics against a real crawl of the demo site, run in this process (no Twisted reactor)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from scrapy import signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapyfleet.core.procs import free_port, stop_group, url_ok
from scrapyfleet.core.waits import wait_until
from scrapyfleet.crawler.coremetrics import CoreMetrics, table_header, table_row
from scrapyfleet.crawler.spiders.speed import SpeedSpider

CHECKPOINT = 30


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A demo site with no latency, for this module's crawls; stopped by PID."""
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [Path(sys.executable).with_name("demosite"), "--port", url.rsplit(":", 1)[1],
         "--latency", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: url_ok(f"{url}/health"), 30), "the demo site did not start"
        yield url
    finally:
        stop_group(process.pid)


def engine_state(crawler: Crawler) -> dict[str, int]:
    """The same figures read straight off the engine's internals, the book's way."""
    engine = crawler.engine
    assert engine is not None and engine._slot is not None and engine.scraper.slot is not None
    return {
        "scheduler": len(engine._slot.scheduler.mqs),  # type: ignore[attr-defined]
        "downloader": len(engine.downloader.active),
        "scraper": len(engine.scraper.slot.active),
        "pipeline": engine.scraper.slot.itemproc_size,
        "done": crawler.stats.get_value("item_scraped_count"),  # type: ignore[union-attr]
        "memory": engine.scraper.slot.active_size,
    }


async def test_logged_numbers_match_engine_state_at_checkpoint(site: str) -> None:
    settings = Settings()
    settings.setmodule("scrapyfleet.crawler.settings", priority="project")
    settings.setdict(
        {
            "TWISTED_REACTOR_ENABLED": False,
            "SPEED_SITE": site,
            "SPEED_TOTAL_ITEMS": 120,
            "SPEED_T_RESPONSE": 0.05,
            "SPEED_PIPELINE_ASYNC_DELAY": 0.05,
            "CONCURRENT_REQUESTS": 8,
            "CORE_METRICS_INTERVAL": 60,
            "CORE_METRICS_TABLE": False,
        },
        priority="cmdline",
    )
    runner = AsyncCrawlerRunner(settings)
    crawler = runner.create_crawler(SpeedSpider)
    seen: dict[str, Any] = {}

    def checkpoint(item: dict[str, Any]) -> None:
        done = crawler.stats.get_value("item_scraped_count")  # type: ignore[union-attr]
        if done != CHECKPOINT:
            return
        ext = crawler.get_extension(CoreMetrics)
        assert ext is not None
        with structlog.testing.capture_logs() as logs:
            seen["returned"] = ext.log()
        seen["logged"] = logs[0]
        seen["engine"] = engine_state(crawler)

    crawler.signals.connect(checkpoint, signal=signals.item_scraped)
    await runner.crawl(crawler)

    engine = seen["engine"]
    assert engine["done"] == CHECKPOINT
    assert 0 < engine["downloader"] <= 8
    assert engine["scheduler"] > 0  # Force style queued every detail page up front
    assert seen["returned"] == engine
    logged = seen["logged"]
    assert logged["event"] == "core_metrics" and logged["spider"] == "speed"
    assert {k: logged[k] for k in engine} == engine
    assert crawler.stats.get_value("item_scraped_count") == 120  # type: ignore[union-attr]


def test_interval_zero_disables_and_book_alias_wins() -> None:
    with pytest.raises(NotConfigured):
        CoreMetrics.from_crawler(get_crawler(settings_dict={"CORE_METRICS_INTERVAL": 0}))
    alias = get_crawler(
        settings_dict={"CORE_METRICS_INTERVAL": 0, "SPEED_CORE_METRICS_INTERVAL": 2}
    )
    assert CoreMetrics.from_crawler(alias).interval == 2.0
    assert CoreMetrics.from_crawler(get_crawler()).interval == 5.0


def test_table_has_the_books_columns() -> None:
    assert table_header().split() == ["s/edule", "d/load", "scrape", "p/line", "done", "mem"]
    row = {
        "scheduler": 952,
        "downloader": 16,
        "scraper": 32,
        "pipeline": 32,
        "done": 0,
        "memory": 3842818,
    }
    assert table_row(row) == "     952      16      32      32       0   3842818"
