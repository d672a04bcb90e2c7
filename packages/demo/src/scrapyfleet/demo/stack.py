"""The demo's components as processes: their command lines and how each shows it is ready.

Order: demo site, ftpsink, the scrapyd cluster and the Spark job start together (none needs
another); once the cluster is up, the monitor (it reads the cluster's scrapy.cfg) and then
crawl-master, neither waiting for the other nor for the Spark JVM: its file source reads whatever
landed before it was ready. Until Spark is ready the other components yield the CPU to it
(`headstart.py`), so that it is ready when the first files land, and then give way to its
micro-batches. ftpsink and crawl-master share a landing-receipt key made for the run (given through
their environment, never a command line): a URL counts as landed only when the sink's receipt
confirms it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from scrapyfleet.core.contracts import SITE_TOTAL, Events, index_pages
from scrapyfleet.core.procs import free_port, free_port_block, port_open, script, url_ok
from scrapyfleet.demo.headstart import HeadStart
from scrapyfleet.demo.procs import Child, ComponentError, Supervisor
from scrapyfleet.demo.tail import JsonTail

log = structlog.get_logger("scrapyfleet.demo")

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 120.0  # Spark's JVM on a busy 2-core machine is the slowest
METRICS_LINGER = 3.0  # seconds crawl-master's metrics outlive it: the console polls every second


@dataclass(frozen=True, slots=True)
class Plan:
    """What to run and where."""

    run_dir: Path
    total: int = SITE_TOTAL
    latency: float = 0.25
    seed: int = 0
    nodes: int = 3
    slots: int = 2
    batch_size: int = 5000
    first_batch_size: int = 250  # the first batches are small: the first table comes early
    # per job: the last batches of a run, crawled by few jobs, are bound by it (0.25 s latency:
    # at most 4 x this many pages/s per job)
    concurrency: int = 128
    keep_workers: bool = True  # a job leases batch after batch (False: a process per batch)
    head_start: bool = True  # the other components yield the CPU to Spark (`headstart.py`)
    trigger: str = "500ms"  # a landed file waits at most this for its micro-batch (a turn
    # that finds no new file costs Spark next to nothing; docs/performance.md)
    spark_master: str = "local[*]"  # or a standalone cluster's spark://HOST:PORT
    # ftpsink signs landing receipts with it, crawl-master checks them (core.receipts)
    receipt_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)

    @property
    def index_pages(self) -> int:
        return index_pages(self.total)

    @property
    def items_dir(self) -> Path:
        return self.run_dir / "items"

    @property
    def analytics_dir(self) -> Path:
        return self.run_dir / "analytics"

    @property
    def cluster_dir(self) -> Path:
        return self.run_dir / "cluster"

    @property
    def master_dir(self) -> Path:
        return self.run_dir / "master"

    @property
    def monitor_log(self) -> Path:
        return self.run_dir / "monitor.log"


@dataclass(frozen=True, slots=True)
class Stack:
    """Where the started components listen."""

    site_url: str
    ftp_port: int
    master_metrics: int  # crawl-master's Prometheus port (the console reads it)
    spark: SparkStart  # the crawl does not wait for it
    monitor: Child  # nor for the monitor: `wait_monitor` after crawl-master has started
    console_url: str  # the monitor's web console (its `/snapshot.json`: the demo's view)


def start_stack(plan: Plan, sup: Supervisor) -> Stack:
    """Start every component but crawl-master; wait until the site, ftpsink and the cluster are
    ready (the monitor: `wait_monitor`; Spark: `SparkStart.check`)."""
    for folder in (plan.items_dir, plan.analytics_dir, plan.cluster_dir, plan.master_dir):
        folder.mkdir(parents=True, exist_ok=True)
    site_port, ftp_port, web_port = free_port(), free_port(), free_port()
    sink_metrics, master_metrics = free_port(), free_port()
    try:
        base_port = free_port_block(plan.nodes)
    except OSError as exc:
        raise ComponentError(str(exc)) from exc
    head_start = HeadStart(plan.head_start)
    site = sup.start(
        "demosite",
        [script("demosite"), "--host", HOST, "--port", str(site_port), "--total",
         str(plan.total), "--latency", str(plan.latency), "--seed", str(plan.seed)],
    )  # fmt: skip
    ftpsink = sup.start(
        "ftpsink",
        [script("ftpsink"), "--host", HOST, "--port", str(ftp_port), "--root",
         str(plan.items_dir), "--passive-ports", "0", "--log-format", "json", "--metrics",
         f"{HOST}:{sink_metrics}"],
        env={"SCRAPYFLEET_FTPSINK_RECEIPT_KEY": plan.receipt_key},
    )  # fmt: skip
    cluster = sup.start(
        "cluster",
        [script("cluster"), "run", "--dir", str(plan.cluster_dir), "--nodes", str(plan.nodes),
         "--base-port", str(base_port), "--slots", str(plan.slots)],
    )  # fmt: skip
    spark = sup.start(
        "spark",
        [script("boostwords"), str(plan.items_dir), "--output", str(plan.analytics_dir),
         "--checkpoint", str(plan.run_dir / "checkpoint"), "--trigger", plan.trigger,
         "--master", plan.spark_master, "--log-format", "json"],
    )  # fmt: skip
    for child in (site, ftpsink, cluster):
        head_start.hold(child.name, child.pid)
    site_url = f"http://{HOST}:{site_port}"
    sup.wait_ready(site, lambda: url_ok(site_url + "/health"), STARTUP_TIMEOUT)
    sup.wait_ready(ftpsink, lambda: port_open(HOST, ftp_port), STARTUP_TIMEOUT)
    cluster_log = JsonTail(cluster.log_path)
    sup.wait_ready(
        cluster,
        lambda: (plan.cluster_dir / "scrapy.cfg").is_file() and cluster_log.seen("cluster_ready"),
        STARTUP_TIMEOUT,
    )
    nodes = node_pids(plan)
    sup.add_pids(nodes)
    for name, pid in nodes.items():
        head_start.hold(name, pid)
    monitor = sup.start(
        "monitor",
        [script("monitor"), "--config", str(plan.cluster_dir / "scrapy.cfg"), "--targets",
         "scrapyd*", "--log-format", "json", "--interval", "1", "--web", f"{HOST}:{web_port}",
         "--crawl-metrics", f"http://{HOST}:{master_metrics}/metrics", "--ftpsink-metrics",
         f"http://{HOST}:{sink_metrics}/metrics", "--items", str(plan.items_dir),
         "--analytics-output", str(plan.analytics_dir)],
        log_name=plan.monitor_log.name,
    )  # fmt: skip
    console_url = f"http://{HOST}:{web_port}/"
    return Stack(
        site_url, ftp_port, master_metrics, SparkStart(spark, head_start), monitor, console_url
    )


def wait_monitor(plan: Plan, sup: Supervisor, stack: Stack) -> None:
    """Wait until the monitor has reported the cluster's status once."""
    monitor_log = JsonTail(plan.monitor_log)
    sup.wait_ready(stack.monitor, lambda: monitor_log.seen(Events.CLUSTER_STATUS), STARTUP_TIMEOUT)


class SparkStart:
    """The Spark job's start, checked on each tick of the demo's loop while the crawl runs; its
    readiness ends the other components' head start."""

    def __init__(self, spark: Child, head_start: HeadStart) -> None:
        self.spark = spark
        self.head_start = head_start
        self.log = JsonTail(spark.log_path)
        self.ready = False

    def check(self) -> None:
        """Note when the query has started; ComponentError if it is later than STARTUP_TIMEOUT."""
        if self.ready:
            return
        waited = time.monotonic() - self.spark.started
        if self.log.seen("started"):
            self.ready = True
            log.info("ready", component=self.spark.name, pid=self.spark.pid,
                     seconds=round(waited, 2))  # fmt: skip
            self.head_start.lift(waited)
        elif waited > STARTUP_TIMEOUT:
            raise ComponentError(
                f"{self.spark.name} was not ready within {STARTUP_TIMEOUT:.0f} s; "
                f"see {self.spark.log_path}"
            )


def start_master(plan: Plan, sup: Supervisor, stack: Stack) -> Child:
    """Start crawl-master over the cluster; it exits 0 once every batch has landed."""
    feed = f"ftp://anonymous@{HOST}:{stack.ftp_port}/%(batch)s_%(name)s_%(time)s.jl"
    master = sup.start(
        "crawl-master",
        [script("crawl-master"), "--config", str(plan.cluster_dir / "scrapy.cfg"), "--targets",
         "scrapyd*", "--site", stack.site_url, "--index-pages", str(plan.index_pages),
         "--batch-size", str(plan.batch_size), "--first-batch-size",
         str(min(plan.first_batch_size, plan.batch_size)), "--concurrency",
         str(plan.concurrency), "--feed-uri", feed, "--run-dir",
         str(plan.master_dir), "--log-format", "json", "--progress", "log", "--metrics",
         f"{HOST}:{stack.master_metrics}", "--metrics-linger", str(METRICS_LINGER),
         "--keep-workers" if plan.keep_workers else "--no-keep-workers"],
        env={"SCRAPYFLEET_CRAWL_MASTER_RECEIPT_KEY": plan.receipt_key},
    )  # fmt: skip
    stack.spark.head_start.hold(master.name, master.pid)
    return master


def node_pids(plan: Plan) -> dict[str, int]:
    """The scrapyd nodes' PIDs, as the cluster wrote them."""
    pids = {}
    for k in range(1, plan.nodes + 1):
        path = plan.cluster_dir / f"scrapyd{k}" / "scrapyd.pid"
        try:
            pids[f"scrapyd{k}"] = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
    return pids
