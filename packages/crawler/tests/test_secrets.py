"""No long-lived secret leaks: a crawl with a canary FTP password and canary scrapyd credentials
(real nodes with basic auth, a real ftpsink account, `--deploy`), while every process's command
line is sampled; afterwards every file of the run, the nodes and the sink is searched."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapyfleet.core.credentials import Credentials

from .conftest import start_sink

FTP_CANARY = "ftp-canary-5d3e9a71"
NODE_CANARY = "node-canary-81bc47e0"
CANARIES = (FTP_CANARY.encode(), NODE_CANARY.encode())


class CmdlineSampler(threading.Thread):
    """Reads every /proc/*/cmdline until stopped: what held a canary, how many job lines seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.leaks: list[bytes] = []
        self.jobs_seen = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for proc in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    line = proc.read_bytes()
                except OSError:
                    continue
                self.jobs_seen += b"DISTRIBUTED_MASTER_URL" in line
                self.leaks += [line for c in CANARIES if c in line]


def leaking_files(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and any(c in path.read_bytes() for c in CANARIES):
                found.append(str(path))
    return found


def test_canaries_appear_nowhere(
    tmp_path: Path,
    site_factory,
    cluster_factory,
    run_master,
    free_port: Callable[[], int],
    wait_for: Callable[..., Any],
) -> None:
    site = site_factory(total=600)
    sink = start_sink(tmp_path / "items", free_port(), wait_for, f"worker:{FTP_CANARY}",
                      log=tmp_path / "ftpsink.log")  # fmt: skip
    try:
        cluster = cluster_factory([2, 2], auth=Credentials("ops", NODE_CANARY))
        sampler = CmdlineSampler()
        sampler.start()
        run_dir = tmp_path / "run"
        result = run_master(
            ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", site.url,
             "--index-pages", "20", "--batch-size", "150", "--feed-uri", sink.feed_uri,
             "--run-dir", str(run_dir), "--deploy"],
            env={**os.environ, "SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD": FTP_CANARY},
        )  # fmt: skip
        sampler.done.set()
        sampler.join(5)
        assert result.returncode == 0, result.stderr[-3000:]
        assert {item["url"] for item in sink.items()} == site.listing_urls()
    finally:
        sink.stop()

    assert sampler.jobs_seen > 0, "no worker job's command line was sampled"
    assert sampler.leaks == []
    assert not any(c in (result.stdout + result.stderr).encode() for c in CANARIES)
    node_dirs = [spec.root for spec in cluster.nodes]
    assert leaking_files(run_dir, *node_dirs, tmp_path / "ftpsink.log") == []
    master_log = (run_dir / "master.log").read_text()
    for event in ('"batch_done"', '"run_summary"', '"logger": "scrapy.'):  # ours and Scrapy's
        assert event in master_log, event
    assert run_dir.stat().st_mode & 0o777 == 0o700
    modes = {p.name: p.stat().st_mode & 0o777 for p in run_dir.iterdir() if p.is_file()}
    assert set(modes.values()) == {0o600}, modes
    assert {"options.json", "ledger.sqlite", "summary.json", "failed.jl", "master.log"} <= set(
        modes
    )


def test_batch_endpoint_over_tls(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master, events
) -> None:
    from scrapyfleet.ftpsink.tls import self_signed

    (tmp_path / "tls").mkdir()
    tls = self_signed(tmp_path / "tls")
    site = site_factory(total=300)
    cluster = cluster_factory([2])
    result = run_master(
        ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", site.url,
         "--index-pages", "10", "--batch-size", "100", "--feed-uri", sink.feed_uri,
         "--run-dir", str(tmp_path / "run"), "--tls-cert", str(tls.cert), "--tls-key",
         str(tls.key)]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (started,) = events(result.stderr, "batch_server_started")
    assert str(started["url"]).startswith("https://127.0.0.1:")
    assert {item["url"] for item in sink.items()} == site.listing_urls()
