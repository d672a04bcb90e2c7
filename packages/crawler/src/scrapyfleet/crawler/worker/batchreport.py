"""A worker's report on one lease: the lease, and the counts since it began (a job that keeps its
process crawls several; Scrapy's stats are the whole process's). docs/architecture.md, "Batch
endpoint"."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.crawler import Crawler

from scrapyfleet.crawler.contract import FeedFile, WorkerReport
from scrapyfleet.crawler.sitewire import SiteOrder
from scrapyfleet.crawler.worker.feedstorage import FleetFeeds
from scrapyfleet.crawler.worker.tracker import UrlTracker


@dataclass(slots=True)
class Lease:
    """One attempt of one batch held by this job."""

    batch: str
    attempt: int
    credential: str
    urls: list[str]
    timeout: float | None = None  # the master's lease timeout; None: no renewals
    reported: bool = False
    sites: dict[str, SiteOrder] = field(default_factory=dict)  # the grant's site orders

    @property
    def params(self) -> dict[str, str]:
        return {"attempt": str(self.attempt)}


def counters(crawler: Crawler, feeds: FleetFeeds) -> dict[str, int]:
    """Items, pages, failed feed stores and stored feed files of the process so far."""
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    failed = sum(v for k, v in stats.items() if k.startswith("feedexport/failed_count/"))
    return {
        "items": int(stats.get("item_scraped_count", 0)),
        "pages": int(stats.get("response_received_count", 0)),
        "failed": int(failed),
        "stored": len(feeds.stored),
    }


def build_report(
    crawler: Crawler,
    feeds: FleetFeeds,
    since: dict[str, int],
    lease: Lease,
    who: tuple[str, str],
    tracker: UrlTracker,
    lines: int,
    finish_reason: str,
) -> WorkerReport:
    """The report of `lease` for job and node `who`, counting from `since` (`counters`)."""
    now = counters(crawler, feeds)
    since = {"items": 0, "pages": 0, "failed": 0, "stored": 0, **since}  # none: never fetched
    stored = feeds.stored[since["stored"] :]
    failures = tracker.failures(lease.urls)
    return WorkerReport(
        job=who[0],
        node=who[1],
        attempt=lease.attempt,
        items=now["items"] - since["items"],
        pages=now["pages"] - since["pages"],
        finish_reason=finish_reason,
        # A batch without a single item stores no feed: nothing to upload, nothing lost.
        feed_ok=now["failed"] == since["failed"]
        and (bool(stored) or len(failures) == len(lease.urls)),
        feed=FeedFile(stored[0].name, sum(f.bytes for f in stored), lines, stored[0].receipt)
        if stored
        else None,
        failures=failures,
    )
