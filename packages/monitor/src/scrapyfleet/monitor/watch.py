"""One poll of everything: the nodes and the sources at once, then the crawl's events, the
metrics, the alerts and the web console's snapshot. The poll loop (`daemon.run`) drives it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from scrapyfleet.core.contracts import Events
from scrapyfleet.core.safejson import finite
from scrapyfleet.monitor.alerts import Alerts
from scrapyfleet.monitor.daemon import Event, Monitor, PollReport
from scrapyfleet.monitor.metrics import MonitorMetrics
from scrapyfleet.monitor.readings import Crawl, Reading
from scrapyfleet.monitor.snapshot import FleetState
from scrapyfleet.monitor.sources import Sources


class CrawlEnd:
    """`crawl_finished` / `crawl_failed` once per run (runs told apart by their start time)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.ended: set[float | None] = set()

    def events(self, reading: Reading[Crawl]) -> list[Event]:
        crawl = reading.value
        if crawl is None or crawl.outcome is None or crawl.started in self.ended:
            return []
        self.ended.add(crawl.started)
        failed = crawl.outcome == "failed"
        fields = finite(  # Prometheus values may be NaN: the events are strict JSON
            {
                "crawl_metrics": self.url,
                "outcome": crawl.outcome,
                "started": crawl.started,
                "batches": crawl.batches,
                "urls": crawl.urls,
                "pages": crawl.pages,
                "items": crawl.items,
            }
        )
        if failed:
            return [Event(Events.CRAWL_FAILED, "error", fields)]
        return [Event(Events.CRAWL_FINISHED, "info", fields)]


class SitesDown:
    """`site_down` when crawl-master starts holding a site fleet-wide, `site_up` when it holds
    none again (its `scrapyfleet_crawl_sites_down` gauge)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.down = 0

    def events(self, reading: Reading[Crawl]) -> list[Event]:
        crawl = reading.value
        if crawl is None or crawl.sites_down is None or crawl.sites_down != crawl.sites_down:
            return []
        now, before = int(crawl.sites_down), self.down
        self.down = now
        fields = {"crawl_metrics": self.url, "sites_down": now}
        if now > before:
            return [Event(Events.SITE_DOWN, "error", fields)]
        if before and not now:
            return [Event(Events.SITE_UP, "info", fields)]
        return []


class Watch:
    """Polls `monitor` and `sources` together; feeds the console (`publish`), metrics, alerts."""

    def __init__(
        self,
        monitor: Monitor,
        sources: Sources,
        state: FleetState,
        publish: Callable[[dict[str, Any]], None] | None = None,
        metrics: MonitorMetrics | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.monitor = monitor
        self.sources = sources
        self.state = state
        self.publish = publish
        self.metrics = metrics
        self.alerts = alerts
        self.crawl_end = CrawlEnd(sources.options.crawl_metrics)
        self.sites = SitesDown(sources.options.crawl_metrics)

    async def poll(self) -> PollReport:
        """One poll; the crawl's events go before the closing `cluster_status`."""
        nodes, readings = await asyncio.gather(self.monitor.poll(), self.sources.read())
        crawl = self.sites.events(readings.crawl) + self.crawl_end.events(readings.crawl)
        events = nodes.events[:-1] + crawl + nodes.events[-1:]
        report = PollReport(nodes.nodes, events)
        if self.metrics is not None:
            self.metrics.observe(report)
        if self.alerts is not None:
            self.alerts.submit(report.events)
        if self.publish is not None:
            self.publish(self.state.update(report, readings, time.time()))
        return report
