"""Every URL accounted for on a flaky site: real scrapyd nodes, real ftpsink, real HTTP, and a
demo site that injects faults (scrapyfleet.demosite.faults).

Scrapy's own retries are 3 immediate ones (4 requests); the injected transient faults outlast
them in count and in seconds, so only crawl-master's retries across attempts recover them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from scrapyfleet.demosite.catalog import Catalog

TOTAL = 900
CATALOG = Catalog(TOTAL)
# Outlast Scrapy's retries in count (4 requests per attempt) and in time.
TRANSIENT = {"status": 503, "first": 5, "for_seconds": 3, "retry_after": 1}
MASTER = ["--index-pages", "30", "--shards", "3", "--batch-size", "150", "--max-attempts", "4",
          "--setting", "DOWNLOAD_TIMEOUT=2", "--setting", "RETRY_TIMES=3"]  # fmt: skip


def plan(path: Path, *rules: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"rules": list(rules)}), encoding="utf-8")
    return path


def crawl(
    tmp_path: Path, site, sink, cluster, run_master, *extra: str, options: list[str] = MASTER
) -> Any:
    return run_master(
        ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", site.url,
         "--feed-uri", sink.feed_uri, "--run-dir", str(tmp_path / "run"), *options, *extra],
        timeout=300,
    )  # fmt: skip


def landed(sink) -> Counter[str]:
    return Counter(item["url"] for item in sink.items())


def failed_list(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "run" / "failed.jl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_transient_faults_are_retried_until_everything_lands(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    flaky = [CATALOG.listing_path(i) for i in range(7, TOTAL, 50)]  # 2% of the listings
    resets = [CATALOG.listing_path(i) for i in (3, 404)]
    hangs = [CATALOG.listing_path(i) for i in (5, 505)]
    gone = [CATALOG.listing_path(i) for i in (11, 611)]
    index = [CATALOG.index_path(5)]  # mid-chain: shard 0 covers pages 0-9
    faults = plan(
        tmp_path / "faults.json",
        {"paths": flaky + index, **TRANSIENT},
        # Twisted resends a request once when a kept-alive connection drops: 2 per try.
        {"paths": resets, "action": "reset", "first": 10},
        {"paths": hangs, "action": "hang", "seconds": 4, "first": 5},
        {"paths": gone, "status": 404},
    )
    site = site_factory(total=TOTAL, faults=faults)
    result = crawl(tmp_path, site, sink, cluster_factory([2, 2]), run_master)
    assert result.returncode == 0, result.stderr[-3000:]

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    gone_urls = {site.url + p for p in gone}
    assert set(landed(sink)) == site.listing_urls() - gone_urls
    assert max(landed(sink).values()) == 1
    assert summary["urls"] == {"landed": TOTAL - 2, "gone": 2, "no_item": 0, "failed": 0,
                               "pending": 0}  # fmt: skip
    assert summary["urls_retried"] >= len(flaky) + len(resets) + len(hangs)
    assert summary["index"] == {"crawled": True, "complete": True, "failed_pages": [],
                                "missing_listings_at_least": 0}  # fmt: skip
    assert {(r["url"], r["outcome"], r["reason"]) for r in failed_list(tmp_path)} == {
        (url, "gone", "HTTP 404") for url in gone_urls
    }
    assert "2 gone" in result.stderr and "failed.jl" in result.stderr


def test_permanent_failures_exit_1_are_named_and_resume_heals(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    broken = [CATALOG.listing_path(i) for i in (2, 150, 151, 400, 777, 899)]
    faults = plan(tmp_path / "faults.json", {"paths": broken, "status": 500})
    site = site_factory(total=TOTAL, faults=faults)
    cluster = cluster_factory([2, 2])
    result = crawl(tmp_path, site, sink, cluster, run_master)
    assert result.returncode == 1, result.stderr[-3000:]
    broken_urls = {site.url + p for p in broken}
    records = failed_list(tmp_path)
    assert {r["url"] for r in records} == broken_urls
    assert {(r["outcome"], r["reason"], r["attempts"]) for r in records} == {
        ("failed", "HTTP 500", 4)
    }
    assert all(r["last_node"] in ("scrapyd1", "scrapyd2") for r in records)
    assert set(landed(sink)) == site.listing_urls() - broken_urls
    assert "6 failed" in result.stderr

    plan(faults)  # the site is healed
    resumed = run_master(["--resume", str(tmp_path / "run")], timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert set(landed(sink)) == site.listing_urls()
    assert max(landed(sink).values()) == 1
    assert failed_list(tmp_path) == []


def test_an_index_page_that_never_recovers_leaves_coverage_incomplete(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    page = CATALOG.index_path(12)
    faults = plan(tmp_path / "faults.json", {"paths": [page], "status": 503})
    site = site_factory(total=TOTAL, faults=faults)
    cluster = cluster_factory([2])
    result = crawl(tmp_path, site, sink, cluster, run_master, "--retry-window", "4")
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["index"]["complete"] is False
    reason = "retry window (4s) spent: HTTP 503"
    assert summary["index"]["failed_pages"] == [{"url": site.url + page, "reason": reason}]
    assert "index is incomplete" in result.stderr and page in result.stderr
    missing = len(site.listing_urls()) - len(landed(sink))
    assert missing >= 30  # page 12 and the rest of its shard's chain (pages 12-19)

    plan(faults)
    resumed = run_master(["--resume", str(tmp_path / "run")], timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert set(landed(sink)) == site.listing_urls()
