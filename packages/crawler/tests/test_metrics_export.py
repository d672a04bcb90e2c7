"""crawl-master --metrics: Prometheus text that parses, and after a finished crawl equals the
summary and the landed files (real nodes, ftpsink, site; the exporter scraped over HTTP)."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .conftest import BIN


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    """Every sample as {(name, labels): value}, or None if the exporter does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_equal_the_summary_after_the_run(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    free_port: Callable[[], int],
    wait_for: Callable[..., Any],
) -> None:
    site = site_factory(total=600)
    cluster = cluster_factory([2, 2])
    port, run_dir = free_port(), tmp_path / "run"
    url = f"http://127.0.0.1:{port}/metrics"
    master = subprocess.Popen(
        [BIN / "crawl-master", "--log-format", "json", "--progress", "log", "--config",
         str(cluster.config), "--targets", "scrapyd*", "--site", site.url, "--index-pages", "20",
         "--batch-size", "150", "--feed-uri", sink.feed_uri, "--run-dir", str(run_dir),
         "--metrics", f"127.0.0.1:{port}", "--metrics-linger", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: scrape(url) is not None, timeout=60, what="the metrics exporter")
        final = wait_for(
            lambda: (
                (m := scrape(url)) and m[("scrapyfleet_crawl_finished", (("outcome", "ok"),))] and m
            ),
            timeout=180,
            what="the run to end as ok in the metrics",
        )
        summary = json.loads((run_dir / "summary.json").read_text())
        for outcome, count in summary["urls"].items():
            assert final[("scrapyfleet_crawl_urls", (("outcome", outcome),))] == count
        assert final[("scrapyfleet_crawl_batches", (("state", "done"),))] == summary["batches"]
        assert final[("scrapyfleet_crawl_pages_total", ())] == summary["pages"]
        assert final[("scrapyfleet_crawl_items_total", ())] == summary["items"] == 600
        lines = sum(len(p.read_text().splitlines()) for p in sink.root.glob("*.jl"))
        assert final[("scrapyfleet_crawl_urls", (("outcome", "landed"),))] == lines
        assert final[("scrapyfleet_crawl_finished", (("outcome", "failed"),))] == 0
    finally:
        master.send_signal(signal.SIGTERM)  # cuts the linger short
        _, stderr = master.communicate(timeout=30)
    assert master.returncode == 0, stderr[-3000:]
