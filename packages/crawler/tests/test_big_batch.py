"""A batch far over scrapyd's 128 KiB argument limit: its URLs reach the job by lease, never as a
schedule argument (placement by free slots: test_dispatch_clock.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRAPYD_ARGUMENT_LIMIT = 128 * 1024  # a schedule argument over this kills the job silently


@pytest.mark.timeout(900)
def test_one_batch_far_over_the_argument_limit(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    site = site_factory(total=6_000)
    assert len(json.dumps(sorted(site.listing_urls()))) > 2 * SCRAPYD_ARGUMENT_LIMIT
    cluster = cluster_factory([1])
    result = run_master(
        ["--config", str(cluster.config), "--site", site.url, "--index-pages", "200",
         "--batch-size", "6000", "--concurrency", "128", "--feed-uri", sink.feed_uri,
         "--run-dir", str(tmp_path / "run")],
        timeout=840,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["batches"] == 1 and summary["items"] == 6_000
    assert {i["url"] for i in sink.items()} == site.listing_urls()
