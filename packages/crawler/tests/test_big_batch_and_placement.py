"""A batch far over scrapyd's 128 KiB argument limit, and capacity-aware placement."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest


@pytest.mark.timeout(900)
def test_one_batch_of_20000_urls(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    site = site_factory(total=20_000)
    cluster = cluster_factory([1])
    result = run_master(
        ["--config", str(cluster.config), "--site", site.url, "--index-pages", "667",
         "--batch-size", "20000", "--concurrency", "128", "--feed-uri", sink.feed_uri,
         "--run-dir", str(tmp_path / "run")],
        timeout=840,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["batches"] == 1 and summary["items"] == 20_000
    assert {i["url"] for i in sink.items()} == site.listing_urls()


def test_node_with_fewer_slots_gets_fewer_batches(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    # Slow responses, few requests at a time: batches hold their slot for seconds, not CPU.
    site = site_factory(total=1200, latency=0.25)
    cluster = cluster_factory([1, 3])
    run_dir = tmp_path / "run"
    result = run_master(
        ["--config", str(cluster.config), "--site", site.url, "--index-pages", "40",
         "--batch-size", "75", "--concurrency", "4", "--feed-uri", sink.feed_uri,
         "--run-dir", str(run_dir)],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        placed = Counter(node for (node,) in db.execute("SELECT node FROM attempts"))
    assert sum(placed.values()) == 16
    assert 0 < placed["scrapyd1"] < placed["scrapyd2"], placed
    assert placed["scrapyd1"] <= 16 * 0.4, placed
