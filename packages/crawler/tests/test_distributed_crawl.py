"""A whole distributed crawl: real demo site, real ftpsink, real scrapyd nodes, crawl-master."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path


def test_crawl_3000_listings_over_3_nodes(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    site = site_factory(total=3000)
    cluster = cluster_factory([2, 2, 2])
    run_dir = tmp_path / "run"
    result = run_master(
        ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", site.url,
         "--index-pages", "100", "--batch-size", "300", "--feed-uri", sink.feed_uri,
         "--run-dir", str(run_dir)]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    summary = json.loads((run_dir / "summary.json").read_text())
    items = sink.items()
    urls = Counter(item["url"] for item in items)
    assert set(urls) == site.listing_urls()
    assert max(urls.values()) == 1, f"a listing landed twice: {summary['failed_attempts']}"
    assert all(isinstance(i["price"], float) and i["price"] > 0 and i["title"] for i in items)
    assert {i["spider"] for i in items} == {"distr"}

    assert summary["ok"] and summary["items"] == 3000
    assert set(summary["nodes"]) == {"scrapyd1", "scrapyd2", "scrapyd3"}, "every node ran batches"
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT id, state, items, node, size FROM batches").fetchall()
    assert summary["batches"] == len(rows) >= 10, "batches of 300, the last ones shared out"
    assert all(state == "done" and n == size for _, state, n, _, size in rows)
    assert sum(size for *_, size in rows) == 3000
    per_batch = Counter(i["batch"] for i in items)
    assert per_batch == {batch: size for batch, *_, size in rows}
    assert {(i["batch"], i["node"]) for i in items} == {(b, node) for b, _, _, node, _ in rows}
