"""scrapyfleet's crawler: the fleet add-on (`scrapyfleet.crawler.Fleet`), its middleware, the
master (`master/`: crawl-master) and the worker side (`worker/`: what a node's job runs)."""

from __future__ import annotations

from typing import Any

__all__ = ["Fleet"]


def __getattr__(name: str) -> Any:
    """`Fleet`, imported when asked for (Scrapy's `ADDONS` path): importing any module of the
    package does not load the master and the worker."""
    if name == "Fleet":
        from scrapyfleet.crawler.addon import Fleet

        return Fleet
    raise AttributeError(name)
