"""A run's figures over time: crawl-master's metrics scraped every control tick while it runs,
kept as samples (pages, items, URLs landed, failed, pending) every SAMPLE_EVERY seconds, with
pages/s over the latest RATE_WINDOW; the run's summary.json is its last sample."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from scrapyfleet.monitor.peermetrics import crawl_from
from scrapyfleet.monitor.readings import Crawl, SourceError
from scrapyfleet.monitor.sources import Sources
from scrapyfleet.monitor.store import Store

SAMPLE_EVERY = 2.0  # seconds between stored samples of one run
RATE_WINDOW = 15.0  # seconds over which a run's pages/s is measured
SERIES_POINTS = 2000  # samples a run's series returns at most (evenly thinned)


class RunStats:
    """The latest figures of every live run, and their stored samples."""

    def __init__(
        self, store: Store, sources: Sources, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.sources = sources
        self.clock = clock
        self.latest: dict[str, dict[str, Any]] = {}  # run id -> figures, or {"problem": why}
        self._last: dict[str, float] = {}

    async def _read(self, url: str) -> Crawl | str:
        try:
            return crawl_from(await self.sources.scrape(url))
        except SourceError as e:
            return str(e)

    async def sample(self, runs: Sequence[dict[str, Any]]) -> None:
        """Scrape every live run's metrics at once; store a sample where one is due."""
        read = await asyncio.gather(*(self._read(r["metrics"]) for r in runs))
        now = self.clock()
        for run, crawl in zip(runs, read, strict=True):
            if isinstance(crawl, str):
                self.latest[run["id"]] = {"problem": crawl}
                continue
            figures: dict[str, Any] = asdict(crawl)
            figures["pages_per_second"] = self._rate(run["id"], now, crawl.pages)
            self.latest[run["id"]] = figures
            if now - self._last.get(run["id"], 0.0) >= SAMPLE_EVERY:
                self._last[run["id"]] = now
                self._store(run["id"], now, crawl.pages, crawl.items, crawl.urls)
        for gone in set(self.latest) - {r["id"] for r in runs}:
            del self.latest[gone]

    def ended(self, run_id: str, summary: dict[str, Any] | None) -> None:
        """The run's process has gone: its summary's figures are the series' last sample (a run
        shorter than SAMPLE_EVERY would otherwise have a single point)."""
        self._last.pop(run_id, None)
        if summary is not None:
            urls = summary.get("urls", {})
            self._store(run_id, self.clock(), summary.get("pages"), summary.get("items"), urls)

    def _store(self, run_id: str, t: float, pages: Any, items: Any, urls: dict[str, Any]) -> None:
        self.store.write(
            "INSERT INTO samples (run, t, pages, items, landed, failed, pending) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, t, pages, items, urls.get("landed"), urls.get("failed"), urls.get("pending")),
        )

    def _rate(self, run_id: str, now: float, pages: float | None) -> float | None:
        row = self.store.row(
            "SELECT t, pages FROM samples WHERE run = ? AND t >= ? ORDER BY t LIMIT 1",
            (run_id, now - RATE_WINDOW),
        )
        if row is None or pages is None or row["pages"] is None or now - row["t"] < 1.0:
            return None
        return round((pages - float(row["pages"])) / (now - float(row["t"])), 2)

    def series(self, run_id: str) -> list[dict[str, Any]]:
        """The run's samples, oldest first, at most SERIES_POINTS of them."""
        rows = self.store.rows(
            "SELECT t, pages, items, landed, failed, pending FROM samples WHERE run = ? ORDER BY t",
            (run_id,),
        )
        step = max(1, -(-len(rows) // SERIES_POINTS))
        return rows[::step]
