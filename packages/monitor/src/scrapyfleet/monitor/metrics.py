"""The monitor's own Prometheus metrics (`monitor --metrics HOST:PORT`), in its own registry.

| name | type | labels |
|---|---|---|
| `scrapyfleet_monitor_node_up` | gauge | node |
| `scrapyfleet_monitor_node_jobs` | gauge | node, state = pending, running, finished |
| `scrapyfleet_monitor_node_slots` | gauge | node (nodes whose `slots` scrapy.cfg gives) |
| `scrapyfleet_monitor_node_last_answer_timestamp_seconds` | gauge | node |
| `scrapyfleet_monitor_poll_duration_seconds` | histogram | node |
| `scrapyfleet_monitor_polls_total` | counter | |
| `scrapyfleet_monitor_events_total` | counter | event |
| `scrapyfleet_monitor_alerts_total` | counter | outcome = sent, failed |

A node that does not answer has `up` 0 and no job gauges (not its last counts).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from scrapyfleet.core.scrapyd import STATES
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.daemon import PollReport

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MonitorMetrics:
    """Gauges and counters updated after every poll."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.registry = r = CollectorRegistry()
        p = "scrapyfleet_monitor_"
        self.up = Gauge(
            f"{p}node_up", "1 if the node answered the last poll.", ["node"], registry=r
        )
        self.jobs = Gauge(
            f"{p}node_jobs",
            "The node's jobs by state (listjobs.json).",
            ["node", "state"],
            registry=r,
        )
        slots = Gauge(f"{p}node_slots", "The node's slots (scrapy.cfg).", ["node"], registry=r)
        self.answered = Gauge(
            f"{p}node_last_answer_timestamp_seconds",
            "When the node last answered (Unix time).",
            ["node"],
            registry=r,
        )
        self.latency = Histogram(
            f"{p}poll_duration_seconds",
            "How long polling the node took.",
            ["node"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.polls = Counter(f"{p}polls", "Polls of the fleet.", registry=r)
        self.events = Counter(f"{p}events", "Events by name.", ["event"], registry=r)
        self.alerts = Counter(f"{p}alerts", "Alert deliveries by outcome.", ["outcome"], registry=r)
        for target in targets:
            if target.slots is not None:
                slots.labels(target.name).set(target.slots)

    def observe(self, report: PollReport) -> None:
        """Record one poll."""
        self.polls.inc()
        now = time.time()
        for node in report.nodes:
            name = node.target.name
            self.latency.labels(name).observe(node.latency)
            self.up.labels(name).set(1 if node.jobs is not None else 0)
            if node.jobs is None:
                for state in STATES:
                    with contextlib.suppress(KeyError):  # never answered yet
                        self.jobs.remove(name, state)
                continue
            self.answered.labels(name).set(now)
            for state in STATES:
                self.jobs.labels(name, state).set(len(getattr(node.jobs, state)))
        for event in report.events:
            self.events.labels(event.name).inc()

    def alert(self, outcome: str) -> None:
        """Count one alert delivery ("sent" or "failed")."""
        self.alerts.labels(outcome).inc()
