"""crawl-master's Prometheus metrics (`--metrics HOST:PORT`), read by the monitor's console.

The dispatcher's snapshot (every tick) and, at the end, the run summary are turned into metric
families on each scrape; the loop thread only swaps a reference, the exporter's thread reads it.

| name | type | labels |
|---|---|---|
| `scrapyfleet_crawl_batches` | gauge | `state` |
| `scrapyfleet_crawl_urls` | gauge | `outcome` = landed, gone, no_item, failed, pending |
| `scrapyfleet_crawl_pages_total`, `_items_total` | counter | |
| `scrapyfleet_crawl_attempts_total`, `_retries_total` | counter | batch attempts; after a first |
| `scrapyfleet_crawl_pages_per_second` | gauge | |
| `scrapyfleet_crawl_nodes` | gauge | `state` = usable, set_aside |
| `scrapyfleet_crawl_started_timestamp_seconds` | gauge | |
| `scrapyfleet_crawl_finished` | gauge | `outcome` = ok, failed (1 at the end) |
| `scrapyfleet_crawl_intake_open` | gauge | 1 while batches are still being made |
| `scrapyfleet_crawl_sites_down` | gauge | domains whose circuit is open (`sitehealth.py`) |
| `scrapyfleet_crawl_site_events_total` | counter | `event` = site_down, _up, _slowed, _given_up |
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scrapyfleet.core.contracts import Events
from scrapyfleet.crawler.outcomes import OUTCOMES

PREFIX = "scrapyfleet_crawl"
SITE_EVENTS = (Events.SITE_DOWN, Events.SITE_UP, Events.SITE_SLOWED, Events.SITE_GIVEN_UP)


@dataclass(slots=True)
class Figures:
    """What the metrics say, as last updated."""

    batches: dict[str, int] = field(default_factory=dict)
    urls: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    items: int = 0
    attempts: int = 0
    retries: int = 0
    nodes: dict[str, int] = field(default_factory=dict)
    finished: str | None = None  # "ok" or "failed" once the run has ended
    intake_open: bool = True
    sites_down: int = 0
    site_events: dict[str, int] = field(default_factory=dict)


class CrawlMetrics(Collector):
    """The crawl's figures as Prometheus metric families."""

    def __init__(self) -> None:
        self.started = time.time()
        self.figures = Figures()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def __call__(self, snap: dict[str, Any]) -> None:
        """A dispatcher snapshot (`Fleet.snapshot`), every tick."""
        nodes = snap["nodes"].values()
        self.figures = Figures(
            batches=dict(snap["batches"]),
            urls=dict(snap["urls"]),
            pages=int(snap["pages"]),
            items=int(snap["items"]),
            attempts=snap["attempts"]["scheduled"],
            retries=snap["attempts"]["retries"],
            nodes={
                "usable": sum(1 for n in nodes if n["up"] and not n["set_aside"]),
                "set_aside": sum(1 for n in nodes if n["set_aside"]),
            },
            intake_open=bool(snap["intake_open"]),
            sites_down=len(snap.get("sites", {}).get("down", [])),
            site_events=Counter(e["event"] for e in snap.get("sites", {}).get("events", [])),
        )

    def finish(self, snap: dict[str, Any], summary: dict[str, Any]) -> None:
        """The run ended: the last snapshot, the summary's page count and the outcome."""
        self(snap)
        self.figures.pages = int(summary["pages"])  # the master's own index pages included
        self.figures.finished = "ok" if summary["ok"] else "failed"

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        batches = GaugeMetricFamily(f"{PREFIX}_batches", "Batches by state", labels=["state"])
        for state in ("queued", "scheduled", "running", "done", "failed"):
            batches.add_metric([state], f.batches.get(state, 0))
        urls = GaugeMetricFamily(f"{PREFIX}_urls", "Diverted URLs by outcome", labels=["outcome"])
        for outcome in OUTCOMES:
            urls.add_metric([outcome], f.urls.get(outcome, 0))
        nodes = GaugeMetricFamily(f"{PREFIX}_nodes", "scrapyd nodes", labels=["state"])
        for state in ("usable", "set_aside"):
            nodes.add_metric([state], f.nodes.get(state, 0))
        elapsed = max(time.time() - self.started, 1e-9)
        yield batches
        yield urls
        yield nodes
        yield CounterMetricFamily(f"{PREFIX}_pages", "Pages fetched", value=f.pages)
        yield CounterMetricFamily(f"{PREFIX}_items", "Items exported", value=f.items)
        yield CounterMetricFamily(f"{PREFIX}_attempts", "Batch attempts", value=f.attempts)
        yield CounterMetricFamily(f"{PREFIX}_retries", "Attempts after a first", value=f.retries)
        yield GaugeMetricFamily(
            f"{PREFIX}_pages_per_second", "Pages per second since the start", f.pages / elapsed
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_started_timestamp_seconds", "When the run started", self.started
        )
        finished = GaugeMetricFamily(
            f"{PREFIX}_finished", "1 on the run's outcome once it ended", labels=["outcome"]
        )
        for end in ("ok", "failed"):
            finished.add_metric([end], 1.0 if f.finished == end else 0.0)
        yield finished
        yield GaugeMetricFamily(
            f"{PREFIX}_intake_open", "1 while batches are still being made", float(f.intake_open)
        )
        yield GaugeMetricFamily(f"{PREFIX}_sites_down", "Domains held fleet-wide", f.sites_down)
        events = CounterMetricFamily(f"{PREFIX}_site_events", "Site events", labels=["event"])
        for event in SITE_EVENTS:
            events.add_metric([event], f.site_events.get(event, 0))
        yield events
