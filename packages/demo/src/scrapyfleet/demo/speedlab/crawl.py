"""One `speed` crawl in this process (what `speedlab crawl -s K=V` and every experiment run)."""

from __future__ import annotations

import logging
import os

import structlog
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

log = structlog.get_logger(__name__)

PROJECT_SETTINGS = "scrapyfleet.crawler.settings"


def crawl(overrides: dict[str, str]) -> int:
    """Run the `speed` spider to the end; log `crawl_finished`; 0 when it finished cleanly."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", PROJECT_SETTINGS)
    settings = get_project_settings()
    settings.setdict({"LOG_INSTALL_ROOT_HANDLER": False, **overrides}, priority="cmdline")
    process = CrawlerProcess(settings)
    # Scrapy's logging dictConfig resets its loggers; keep them at WARNING like every process.
    logging.getLogger("scrapy").setLevel(logging.WARNING)
    crawler = process.create_crawler("speed")
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    reason = stats.get("finish_reason")
    log.info(
        "crawl_finished",
        reason=reason,
        items=stats.get("item_scraped_count", 0),
        responses=stats.get("response_received_count", 0),
        response_bytes=stats.get("downloader/response_bytes", 0),
        elapsed=stats.get("elapsed_time_seconds"),
        errors=stats.get("log_count/ERROR", 0),
    )
    return 0 if reason == "finished" else 1
