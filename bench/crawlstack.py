"""The crawl's processes without Spark or the monitor, for the crawl benchmarks (`crawl.py`,
`sites.py`): demo site, ftpsink and a scrapyd cluster under one `Supervisor`, ready to crawl."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scrapyfleet.core.contracts import index_pages
from scrapyfleet.core.procs import free_port, free_port_block, script, url_ok
from scrapyfleet.demo.procs import Child, Supervisor
from scrapyfleet.demo.stack import Plan, node_pids
from scrapyfleet.demo.tail import JsonTail

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class CrawlStack:
    site_url: str
    feed: str  # the workers' FTP feed URI into the run's `items/`
    config: Path  # the cluster's scrapy.cfg of deploy targets
    site: Child
    sink: Child
    cluster: Child  # with its nodes and their jobs


def start_crawl_stack(
    sup: Supervisor, run_dir: Path, total: int, latency: float, nodes: int, slots: int
) -> CrawlStack:
    """Start the site (`total` listings, `latency` s), ftpsink and `nodes` scrapyd nodes of
    `slots`; return once the site and every node answer."""
    plan = Plan(run_dir=run_dir, nodes=nodes)
    plan.cluster_dir.mkdir(parents=True, exist_ok=True)
    site_port, ftp_port, base_port = free_port(), free_port(), free_port_block(nodes)
    site_url = f"http://{HOST}:{site_port}"
    site = sup.start("site", [script("demosite"), "--host", HOST, "--port", str(site_port),
                              "--total", str(total), "--latency", str(latency)])  # fmt: skip
    sink = sup.start("ftpsink", [script("ftpsink"), "--port", str(ftp_port), "--root",
                          str(run_dir / "items"), "--passive-ports", "0"])  # fmt: skip
    cluster = sup.start("cluster", [script("cluster"), "run", "--dir", str(plan.cluster_dir),
                                    "--nodes", str(nodes), "--base-port", str(base_port),
                                    "--slots", str(slots)])  # fmt: skip
    sup.wait_ready(site, lambda: url_ok(site_url + "/health"), 60)
    cluster_log = JsonTail(cluster.log_path)
    sup.wait_ready(cluster, lambda: cluster_log.seen("cluster_ready"), 60)
    sup.add_pids(node_pids(plan))
    feed = f"ftp://anonymous:x@{HOST}:{ftp_port}/%(batch)s_%(name)s_%(time)s.jl"
    return CrawlStack(site_url, feed, plan.cluster_dir / "scrapy.cfg", site, sink, cluster)


def master_args(
    stack: CrawlStack, run_dir: Path, site_url: str, total: int, *extra: str
) -> list[str]:
    """crawl-master's command line over `stack`: `site_url`'s `total` listings into the run's
    `items/`, its run directory `run_dir/master`, JSON logs; then `extra`."""
    return [script("crawl-master"), "--config", str(stack.config), "--site", site_url,
            "--index-pages", str(index_pages(total)), "--feed-uri", stack.feed,
            "--run-dir", str(run_dir / "master"), "--log-format", "json", "--progress", "log",
            *extra]  # fmt: skip
