"""A URL counts as landed only when the sink confirms it: a worker whose upload reached a sink
that forged its receipt (another key) or gave none reports success, and is refused; the batch is
retried, and the run ends with every listing landed at the real sink (real ftpsink processes,
scrapyd, crawl-master)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .conftest import RECEIPT_KEY, start_sink


def test_unconfirmed_landings_are_refused_and_retried(
    tmp_path: Path,
    site_factory,
    cluster_factory,
    run_master,
    free_port: Callable[[], int],
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=600)
    cluster = cluster_factory([2])
    port, run_dir = free_port(), tmp_path / "run"
    # First the uploads go to a sink signing with another key (a forger), then to one signing
    # nothing; only the real sink, last, is confirmed.
    sink = start_sink(tmp_path / "forged", port, wait_for, receipt_key=secrets.token_hex(32))
    args = ["--config", str(cluster.config), "--site", site.url, "--batch-size", "150",
            "--index-pages", "20", "--max-attempts", "8", "--feed-uri", sink.feed_uri,
            "--run-dir", str(run_dir)]  # fmt: skip
    refused = "SELECT reason FROM attempts WHERE reason LIKE '{}%'"
    with ThreadPoolExecutor(1) as pool:
        master = pool.submit(run_master, args, 400.0)
        try:
            stages = (
                ("receipt_invalid", "unsigned", None),
                ("receipt_missing", "items", RECEIPT_KEY),
            )
            for reason, root, key in stages:
                wait_for(lambda r=reason: ledger_rows(run_dir, refused.format(r)) or master.done(),
                         timeout=180, what=f"a {reason} refusal")  # fmt: skip
                assert not master.done(), master.result().stderr[-3000:]
                sink.stop()
                sink = start_sink(tmp_path / root, port, wait_for, receipt_key=key)
            result = master.result()
        finally:
            sink.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    urls = Counter(item["url"] for item in sink.items())
    assert set(urls) == site.listing_urls() and max(urls.values()) == 1
    assert list((tmp_path / "forged").glob("*.jl")), "the forger got uploads"
    assert list((tmp_path / "unsigned").glob("*.jl")), "the unsigned sink got uploads"
    assert "landing_refused" in result.stdout + result.stderr
