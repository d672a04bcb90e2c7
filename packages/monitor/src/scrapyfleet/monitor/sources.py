"""What the console shows besides the nodes: the crawl, the ingest and the analysis.

Each source is read only from where an option points (never guessed), once per poll, and every
read ends in a `Reading` (`readings`). Metrics pages (`peermetrics`: the names read) are read up
to `peermetrics.MAX_METRICS` bytes and parsed off the event loop; files (`outputs`) off it too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from scrapyfleet.core.httpread import AnswerTooLarge, read_capped
from scrapyfleet.monitor.outputs import read_analysis, scan_landed
from scrapyfleet.monitor.peermetrics import (
    MAX_METRICS,
    Samples,
    crawl_from,
    parse_samples,
    uploads_from,
)
from scrapyfleet.monitor.readings import (
    NOT_CONFIGURED,
    Crawl,
    Reading,
    Readings,
    SourceError,
    Uploads,
)


async def _guard(read: Any) -> Reading[Any]:
    try:
        return Reading(await read)
    except SourceError as e:
        return Reading(problem=str(e))


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Where each source is: URLs of metrics endpoints, directories; None = not configured."""

    crawl_metrics: str | None = None
    ftpsink_metrics: str | None = None
    items: Path | None = None
    analytics_output: Path | None = None


class Sources:
    """Reads every configured source concurrently, each bounded by `timeout` seconds."""

    def __init__(
        self, options: SourceOptions, session: aiohttp.ClientSession, timeout: float
    ) -> None:
        self.options = options
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout

    async def scrape(self, url: str) -> Samples:
        """GET a Prometheus endpoint and parse it; SourceError says why it failed."""
        try:
            async with self._session.get(url, timeout=self._timeout) as response:
                if response.status != 200:
                    raise SourceError(f"HTTP {response.status}")
                body = await read_capped(response, MAX_METRICS)
        except AnswerTooLarge as e:
            raise SourceError(str(e)) from None
        except aiohttp.ClientConnectorError:
            raise SourceError("not answering: cannot connect") from None
        except TimeoutError:
            raise SourceError(f"not answering: timeout after {self._timeout_s}s") from None
        except aiohttp.ClientError as e:
            raise SourceError(f"{type(e).__name__}: {e}") from None
        return await asyncio.to_thread(parse_samples, body.decode("utf-8", errors="replace"))

    async def _crawl(self, url: str) -> Crawl:
        return crawl_from(await self.scrape(url))

    async def _uploads(self, url: str) -> Uploads:
        return uploads_from(await self.scrape(url))

    async def read(self) -> Readings:
        """One reading of every source; the unconfigured ones say so."""
        o = self.options
        off: Reading[Any] = Reading(problem=NOT_CONFIGURED)

        async def nothing() -> Reading[Any]:
            return off

        crawl, ftpsink, items, analysis = await asyncio.gather(
            _guard(self._crawl(o.crawl_metrics)) if o.crawl_metrics else nothing(),
            _guard(self._uploads(o.ftpsink_metrics)) if o.ftpsink_metrics else nothing(),
            _guard(asyncio.to_thread(scan_landed, o.items)) if o.items else nothing(),
            _guard(asyncio.to_thread(read_analysis, o.analytics_output))
            if o.analytics_output
            else nothing(),
        )
        return Readings(crawl, ftpsink, items, analysis)
