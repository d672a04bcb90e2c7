"""The speed lab's item pipeline: blocking work, async work and API calls, per the book's knobs."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode

import aiohttp
from scrapy import Request
from scrapy.utils.asyncio import sleep

from scrapyfleet.crawler.speedlab.knobs import benchmark_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class SpeedPipeline:
    """`SPEED_PIPELINE_*` knobs: blocking delay, async delay, API via the downloader or aiohttp.

    `SPEED_PIPELINE_API_VIA_TREQ` (the book's name: an HTTP client outside Scrapy's downloader)
    takes the same aiohttp path as `SPEED_PIPELINE_API_VIA_AIOHTTP`: on the asyncio reactor
    aiohttp is that client, and neither is limited by `CONCURRENT_REQUESTS`.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.blocking_delay = settings.getfloat("SPEED_PIPELINE_BLOCKING_DELAY", 0.0)
        self.async_delay = settings.getfloat("SPEED_PIPELINE_ASYNC_DELAY", 0.0)
        self.via_downloader = settings.getbool("SPEED_PIPELINE_API_VIA_DOWNLOADER")
        self.via_aiohttp = settings.getbool("SPEED_PIPELINE_API_VIA_AIOHTTP") or settings.getbool(
            "SPEED_PIPELINE_API_VIA_TREQ"
        )
        self.api_url = benchmark_url(settings) + "api"
        self.session: aiohttp.ClientSession | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def open_spider(self) -> None:
        if self.via_aiohttp:
            self.session = aiohttp.ClientSession()

    async def close_spider(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        item["translation"] = "N/A"
        if self.blocking_delay > 0:
            time.sleep(self.blocking_delay)  # noqa: ASYNC251 (the book's blocking case, on purpose)
        if self.async_delay > 0:
            await sleep(self.async_delay)
            item["translation"] = f"calculated-{item['info']}"
        query = "?" + urlencode({"text": item["info"]})
        if self.via_downloader:
            assert self.crawler.engine is not None
            response = await self.crawler.engine.download_async(Request(self.api_url + query))
            item["translation"] = json.loads(response.body)["translation"]
        if self.session is not None:
            async with self.session.get(self.api_url + query) as reply:
                reply.raise_for_status()
                item["translation"] = (await reply.json(content_type=None))["translation"]
        return item
