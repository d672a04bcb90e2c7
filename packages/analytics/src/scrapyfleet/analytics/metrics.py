"""The Spark job's Prometheus metrics (`boostwords --metrics HOST:PORT`).

`scrapyfleet_analytics_listings`, `..._bad_records`, `..._files_unreadable` (landed files Spark
could not read) and `..._words` (the table as last written),
`..._micro_batches_total`, `..._micro_batch_seconds` (Spark's trigger execution) and
`..._landed_to_updated_seconds` (from a file's landing, its mtime, to the table counting it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from scrapyfleet.analytics.shifts import Totals

PREFIX = "scrapyfleet_analytics"
BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


class JobMetrics:
    """Updated by the job's micro-batch writer and progress listener."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.listings = Gauge(f"{PREFIX}_listings", "Distinct listings counted", registry=r)
        self.bad = Gauge(f"{PREFIX}_bad_records", "Bad records skipped", registry=r)
        self.unreadable = Gauge(f"{PREFIX}_files_unreadable", "Files Spark could not read",
                                registry=r)  # fmt: skip
        self.words = Gauge(f"{PREFIX}_words", "Words in the shift table", registry=r)
        self.batches = Counter(f"{PREFIX}_micro_batches", "Micro-batches run", registry=r)
        self.duration = Histogram(f"{PREFIX}_micro_batch_seconds", "Micro-batch duration",
                                  buckets=BUCKETS, registry=r)  # fmt: skip
        self.latency = Histogram(f"{PREFIX}_landed_to_updated_seconds",
                                 "From a file's landing to the table counting it",
                                 buckets=BUCKETS, registry=r)  # fmt: skip

    def table_written(self, totals: Totals, words: int, files: Iterable[Path]) -> None:
        """A table was written after a micro-batch that read `files`."""
        self.listings.set(totals.listings)
        self.bad.set(totals.bad_records)
        self.unreadable.set(totals.files_unreadable)
        self.words.set(words)
        now = time.time()
        for path in files:
            try:
                self.latency.observe(max(0.0, now - path.stat().st_mtime))
            except OSError:
                continue  # gone since: named by `files_gone`

    def micro_batch(self, millis: float | None) -> None:
        self.batches.inc()
        if millis is not None:
            self.duration.observe(millis / 1000)
