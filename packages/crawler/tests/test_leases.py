"""Workers that keep their process: one scrapyd job leases batch after batch, each with its own
feed file (real nodes, sink, site, master; a job killed holding a lease: test_reliability.py)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path


def test_one_job_takes_several_batches_each_with_its_own_feed(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    site = site_factory(total=1500)
    cluster = cluster_factory([1])
    run_dir = tmp_path / "run"
    result = run_master(
        ["--config", str(cluster.config), "--site", site.url, "--index-pages", "50",
         "--batch-size", "300", "--feed-uri", sink.feed_uri, "--run-dir", str(run_dir)]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT batch, job, outcome, feed_name, feed_lines FROM attempts")
        rows = rows.fetchall()
    assert len(rows) == 5 and {job for _, job, *_ in rows} == {rows[0][1]}, "one job, 5 leases"
    assert all(outcome == "done" and lines == 300 for _, _, outcome, _, lines in rows)
    feeds = {batch: name for batch, _, _, name, _ in rows}
    assert len(set(feeds.values())) == 5, "a feed file per batch"
    for batch, name in feeds.items():
        landed = sink.root / name
        assert landed.name.startswith(batch) and landed.exists(), f"{name} never landed"
    urls = Counter(item["url"] for item in sink.items())
    assert set(urls) == site.listing_urls() and max(urls.values()) == 1
    per_batch = Counter(item["batch"] for item in sink.items())
    assert per_batch == {batch: 300 for batch in feeds}
