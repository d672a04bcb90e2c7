"""Sites that go down, slow the fleet down, or want one budget: real scrapyd nodes (3 x 2 slots),
real ftpsink, the real demo site behind a real fault-injecting, measuring HTTP proxy
(`siteproxy.py`), and crawl-master with its default options."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.demosite.catalog import Catalog

from .siteproxy import Fault, SiteProxy

TOTAL = 900
CATALOG = Catalog(TOTAL)
MASTER = ["--index-pages", "30", "--shards", "3", "--batch-size", "150"]
OUTAGE = 15.0  # seconds the whole site is down: past 3 probes (their pauses double from 1 s)
NODES = [2, 2, 2]


@pytest.fixture
def proxied(site_factory: Any) -> Iterator[Any]:
    """Start the demo site behind a proxy with `fault`: the proxy."""
    started: list[SiteProxy] = []

    def start(fault: Fault | None, latency: float = 0.0) -> SiteProxy:
        site = site_factory(total=TOTAL, latency=latency)
        proxy = SiteProxy(site.url, fault)
        proxy.start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def crawl(tmp_path: Path, proxy: SiteProxy, sink: Any, cluster: Any, run_master: Any,
          *extra: str) -> Any:  # fmt: skip
    return run_master(
        ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", proxy.url,
         "--feed-uri", sink.feed_uri, "--run-dir", str(tmp_path / "run"), *MASTER, *extra],
        timeout=240,
    )  # fmt: skip


def every_listing(proxy: SiteProxy) -> set[str]:
    return {proxy.url + CATALOG.listing_path(i) for i in range(TOTAL)}


def events(tmp_path: Path) -> list[str]:
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    return [e["event"] for e in summary["sites"]["events"]]


@pytest.mark.parametrize("mode", ["503", "reset"])
def test_a_whole_site_outage_is_waited_out(
    mode: str, tmp_path: Path, proxied: Any, sink: Any, cluster_factory: Any, run_master: Any
) -> None:
    proxy = proxied(Fault(after=400, mode=mode, seconds=OUTAGE))
    result = crawl(tmp_path, proxy, sink, cluster_factory(NODES), run_master)
    assert result.returncode == 0, result.stderr[-3000:]
    landed = Counter(item["url"] for item in sink.items())
    assert set(landed) == every_listing(proxy) and max(landed.values()) == 1
    during = proxy.during()
    print(f"\n{mode} outage of {OUTAGE:.0f} s: {during} requests reached the site during it")
    assert during < 500, during  # what was in flight, the first retries, and the probes
    assert events(tmp_path)[:2] == ["site_down", "site_up"]
    assert '"site_down"' in result.stderr and '"site_up"' in result.stderr


def test_a_429_with_retry_after_slows_every_job(
    tmp_path: Path, proxied: Any, sink: Any, cluster_factory: Any, run_master: Any
) -> None:
    proxy = proxied(Fault(after=300, mode="429", seconds=8), latency=0.02)
    result = crawl(tmp_path, proxy, sink, cluster_factory(NODES), run_master)
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(item["url"] for item in sink.items()) == every_listing(proxy)
    # Jobs hear of it within a renewal (a second; up to three on a loaded machine) and the
    # requests then in flight finish; none until the Retry-After is over.
    assert proxy.gap_after_fault(3.0, 7.8) == 0
    assert proxy.gap_after_fault(7.8, 60) > 0
    assert "site_slowed" in events(tmp_path)


def test_one_concurrency_budget_for_the_whole_fleet(
    tmp_path: Path, proxied: Any, sink: Any, cluster_factory: Any, run_master: Any
) -> None:
    """At most the budget in flight at the site, fleet-wide, with robots.txt obeyed (the master
    and every job read it past the gate)."""
    proxy = proxied(None, latency=0.05)
    result = crawl(tmp_path, proxy, sink, cluster_factory(NODES), run_master,
                   "--domain-concurrency", "8", "--setting", "ROBOTSTXT_OBEY=True")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(item["url"] for item in sink.items()) == every_listing(proxy)
    print(f"\nmost requests in flight at the site: {proxy.max_inflight}")
    assert 1 <= proxy.max_inflight <= 8
    assert proxy.paths["/robots.txt"] >= 2, "the master's crawl and the jobs each read robots.txt"


def test_a_killed_nodes_budget_share_goes_back_to_the_others(
    tmp_path: Path,
    proxied: Any,
    sink: Any,
    cluster_factory: Any,
    run_master: Any,
    wait_for: Callable[..., Any],
) -> None:
    """A node dies mid-crawl (its scrapyd and jobs, SIGKILL): once the node is down its jobs'
    attempts fail and their shares of the budget return, the crawl completes elsewhere, and the
    site never sees more than the budget."""
    proxy = proxied(None, latency=0.05)
    cluster = cluster_factory(NODES)
    victim = cluster.nodes[1]

    def fetched() -> set[str]:
        """The victim's jobs that fetched their batch (holders of a share), from their logs."""
        logs = (victim.root / "logs").rglob("*.log")
        return {log.stem for log in logs if '"batch_fetched"' in log.read_text()}

    with ThreadPoolExecutor(1) as pool:
        master = pool.submit(crawl, tmp_path, proxy, sink, cluster, run_master,
                             "--domain-concurrency", "8", "--node-timeout", "5")  # fmt: skip
        wait_for(lambda: fetched() or master.done(), timeout=120, what="a job of the victim's "
                 "working on its batch")  # fmt: skip
        assert not master.done(), master.result().stderr[-3000:]
        jobs = fetched()
        os.killpg(int(victim.pidfile.read_text()), signal.SIGKILL)  # the machine dies
        result = master.result()
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(item["url"] for item in sink.items()) == every_listing(proxy)
    assert 1 <= proxy.max_inflight <= 8
    log = (tmp_path / "run" / "master.log").read_text().splitlines()
    returned = {json.loads(line)["holder"] for line in log if '"budget_share_returned"' in line}
    assert jobs & returned, (jobs, returned)


def test_a_site_down_longer_than_the_retry_window_fails_its_urls_and_resume_lands_them(
    tmp_path: Path, proxied: Any, sink: Any, cluster_factory: Any, run_master: Any
) -> None:
    proxy = proxied(Fault(after=400, mode="503", seconds=3600))
    cluster = cluster_factory(NODES)
    result = crawl(tmp_path, proxy, sink, cluster, run_master, "--retry-window", "15")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "site_given_up" in events(tmp_path)
    lines = (tmp_path / "run" / "failed.jl").read_text().splitlines()
    failed = [json.loads(line) for line in lines]
    assert failed and {r["reason"] for r in failed} == {"site down"}
    assert len(proxy.arrivals) - 400 < 600  # the window was waited out, not hammered

    assert proxy.fault is not None
    proxy.fault.seconds = 0  # the site is back
    resumed = run_master(["--resume", str(tmp_path / "run")], timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert set(item["url"] for item in sink.items()) == every_listing(proxy)
