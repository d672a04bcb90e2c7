"""The fleet add-on: `ADDONS = {"scrapyfleet.crawler.Fleet": 500}` enables the fleet in any
Scrapy project (docs/own-project.md).

It installs `DistributedMiddleware`, the site gate (`sitegate.py`), the `fleet` feed
storage (workers' feeds, `worker/feedstorage.py`) and `ftps` (FTPS trusting
`FEED_STORAGE_FTPS_CA_FILE`), and every `DISTRIBUTED_*` default (`defaults.py`), all at Scrapy's
`addon` priority: whatever the project set itself wins. The middlewares do nothing in a crawl
that is neither a master (no `DISTRIBUTED_TARGET_HOSTS`) nor a worker job of one.
"""

from __future__ import annotations

import copy

from scrapy.settings import BaseSettings

from scrapyfleet.crawler.defaults import DEFAULTS, add_storages
from scrapyfleet.crawler.middleware import DistributedMiddleware
from scrapyfleet.crawler.sitegate import SiteGate

MIDDLEWARE_PRIORITY = 100  # the book's: near the engine, it sees every request the spider yields
# Nearest the downloader (after Scrapy's retry, redirect and cache middlewares): the site gate
# sees, holds and counts every try that goes to the site.
GATE_PRIORITY = 950


class Fleet:
    """Scrapy add-on (`ADDONS`)."""

    def update_settings(self, settings: BaseSettings) -> None:
        settings.setdefault_in_component_priority_dict(
            "SPIDER_MIDDLEWARES", DistributedMiddleware, MIDDLEWARE_PRIORITY
        )
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", SiteGate, GATE_PRIORITY
        )
        settings.set(
            "FEED_STORAGES", add_storages(settings), settings.getpriority("FEED_STORAGES") or 0
        )
        for name, value in DEFAULTS.items():
            settings.set(name, copy.copy(value), priority="addon")
