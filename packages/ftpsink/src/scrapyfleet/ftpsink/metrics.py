"""ftpsink's Prometheus metrics (`--metrics HOST:PORT`), read by the monitor's console.

`scrapyfleet_ftpsink_uploads_total{outcome=landed|refused|aborted}`, `..._bytes_total` (bytes
landed), `..._connections` (open control connections) and `..._passive_ports_in_use` (of a fixed
range; 0 with `--passive-ports 0`).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "scrapyfleet_ftpsink"
OUTCOMES = ("landed", "refused", "aborted")


class SinkMetrics:
    """Counters the server bumps as uploads end, and gauges read from its state on scrape."""

    def __init__(self, connections: Callable[[], float], ports_in_use: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.uploads = Counter(
            f"{PREFIX}_uploads", "Uploads by outcome", ["outcome"], registry=self.registry
        )
        for outcome in OUTCOMES:
            self.uploads.labels(outcome)
        self.bytes = Counter(f"{PREFIX}_bytes", "Bytes landed", registry=self.registry)
        Gauge(f"{PREFIX}_connections", "Open control connections",
              registry=self.registry).set_function(connections)  # fmt: skip
        Gauge(f"{PREFIX}_passive_ports_in_use", "Passive ports leased",
              registry=self.registry).set_function(ports_in_use)  # fmt: skip

    def landed(self, size: int) -> None:
        self.uploads.labels("landed").inc()
        self.bytes.inc(size)

    def refused(self) -> None:
        self.uploads.labels("refused").inc()

    def aborted(self) -> None:
        self.uploads.labels("aborted").inc()
