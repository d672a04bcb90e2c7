"""The whole pipeline across five hosts (network namespaces on one machine, see conftest.py):
every component configured by address, credentials on, nothing on a shared loopback.

    site   10.231.7.1  demosite :9312, crawl-master (batch endpoint)
    node1  10.231.7.2  scrapyd :6800 ┐
    node2  10.231.7.3  scrapyd :6800 ├ basic auth, 2 slots each, the same port on every host
    node3  10.231.7.4  scrapyd :6800 ┘
    ingest 10.231.7.5  ftpsink :2121 (an account, no anonymous), boostwords (Spark, local)

Spark runs `boostwords --available-now` on the landed files after the crawl (cheaper on two
cores than a streaming job competing with the crawl; same job, same code path per micro-batch).

Over 250 lines on purpose: the five hosts' set-up is the test; its cases share it.
"""

from __future__ import annotations

import ftplib
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.procs import port_open, url_ok
from scrapyfleet.core.scrapydnodes import NodeSpec, answers, node_environment, write_configs
from scrapyfleet.demo.cluster import SETTINGS_MODULE
from scrapyfleet.demosite.catalog import Catalog

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
HOSTS = ["site", "node1", "node2", "node3", "ingest"]
NODES = ["node1", "node2", "node3"]
TOTAL = 6000
BATCH = 500
SITE_PORT, NODE_PORT, SINK_PORT, MASTER_PORT = 9312, 6800, 2121, 8700
PASSIVE = (30000, 30009)
FEED_USER = "feeder"


@dataclass
class Fleet:
    lan: Any
    tmp: Path
    config: Path
    nodes: list[NodeSpec]
    items: Path
    feed_password: str

    def address(self, host: str) -> str:
        return str(self.lan.addresses[host])

    @property
    def site_url(self) -> str:
        return f"http://{self.address('site')}:{SITE_PORT}"

    def master_args(self, run_dir: Path, *extra: str) -> list[str]:
        feed = (
            f"ftp://{FEED_USER}@{self.address('ingest')}:{SINK_PORT}/%(batch)s_%(name)s_%(time)s.jl"
        )
        return [
            BIN / "crawl-master", "--log-format", "json", "--progress", "log",
            "--config", str(self.config), "--targets", "scrapyd*", "--site", self.site_url,
            "--index-pages", str(TOTAL // 30), "--batch-size", str(BATCH),
            "--feed-uri", feed, "--run-dir", str(run_dir), *extra,
        ]  # fmt: skip

    def master_env(self) -> dict[str, str]:
        return os.environ | {"SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD": self.feed_password}

    def landed(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for path in sorted(self.items.glob("*.jl")):
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
        return lines

    def listing_urls(self) -> set[str]:
        catalog = Catalog(TOTAL)
        return {self.site_url + catalog.listing_path(i) for i in range(TOTAL)}


def _log(path: Path) -> Any:
    return path.open("ab")


@pytest.fixture
def fleet(request, tmp_path: Path, lan_factory, wait_for: Callable[..., Any]) -> Fleet:
    """The site, ftpsink and three scrapyd nodes on their hosts, ready. Servers bind their host's
    address, or with the parameter "wildcard" the site and ftpsink bind 0.0.0.0 (scrapyd binds
    the address its deploy target names)."""
    lan = lan_factory(HOSTS)
    address = lan.addresses
    wildcard = getattr(request, "param", "address") == "wildcard"
    bind = {host: "0.0.0.0" if wildcard else address[host] for host in ("site", "ingest")}
    logs = tmp_path / "logs"
    logs.mkdir()

    with _log(logs / "demosite.log") as out:
        lan.popen("site", [BIN / "demosite", "--host", bind["site"], "--port", SITE_PORT,
                           "--total", TOTAL, "--latency", "0"],
                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    password = secrets.token_urlsafe(16)
    hashed = subprocess.run(
        [BIN / "ftpsink", "hash-password", FEED_USER], input=password + "\n",
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    items = tmp_path / "items"
    items.mkdir()
    with _log(logs / "ftpsink.log") as out:
        lan.popen("ingest", [BIN / "ftpsink", "--host", bind["ingest"], "--port", SINK_PORT,
                             "--root", items, "--passive-ports", "{}-{}".format(*PASSIVE),
                             "--log-format", "json"],
                  env=os.environ | {"SCRAPYFLEET_FTPSINK_USERS": hashed},
                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    auth = Credentials("fleet", secrets.token_urlsafe(16))
    nodes = [
        NodeSpec(f"scrapyd{i}", address[host], NODE_PORT, 2, tmp_path / "cluster" / f"scrapyd{i}",
                 auth)
        for i, host in enumerate(NODES, start=1)
    ]  # fmt: skip
    config = write_configs(tmp_path / "cluster", nodes, {PROJECT: SETTINGS_MODULE})
    for host, spec in zip(NODES, nodes, strict=True):
        with _log(spec.root / "scrapyd.out") as out:
            process = lan.popen(host, [sys.executable, "-m", "scrapyd", "--pidfile="],
                                cwd=spec.root, env=node_environment(spec),
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        spec.pidfile.write_text(f"{process.pid}\n")

    fleet = Fleet(lan, tmp_path, config, nodes, items, password)
    # Readiness, seen from the master's host: every service answers on its host's address.
    wait_for(lambda: lan.call("site", url_ok, fleet.site_url + "/health"), timeout=30,
             what="the demo site")  # fmt: skip
    wait_for(lambda: lan.call("site", port_open, address["ingest"], SINK_PORT), timeout=30,
             what="ftpsink")  # fmt: skip
    for spec in nodes:
        wait_for(lambda s=spec: lan.call("site", answers, s.url, 1.0, auth), timeout=60,
                 what=f"{spec.name} at {spec.url}")  # fmt: skip
    return fleet


def pasv_address(host: str, port: int, user: str, password: str) -> tuple[str, int]:
    """The data address ftpsink's PASV reply names (ftplib itself would ignore it; Twisted's
    client, which Scrapy's FTP feed storage uses, connects to it)."""
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=10)
        ftp.login(user, password)
        return ftplib.parse227(ftp.sendcmd("PASV"))


def anonymous_refused(host: str, port: int) -> bool:
    with ftplib.FTP() as ftp:
        ftp.connect(host, port, timeout=10)
        try:
            ftp.login()
        except ftplib.error_perm:
            return True
    return False


def assert_ingest_answers_by_address(fleet: Fleet) -> None:
    """A client on another host is told the ingest's own address for data connections (not
    127.0.0.1, not 0.0.0.0, whatever ftpsink binds), and uploads need the account."""
    lan, ingest = fleet.lan, fleet.address("ingest")
    host, port = lan.call("site", pasv_address, ingest, SINK_PORT, FEED_USER, fleet.feed_password)
    assert host == ingest and PASSIVE[0] <= port <= PASSIVE[1]
    assert lan.call("site", anonymous_refused, ingest, SINK_PORT)


def test_crawl_across_five_hosts_recovers_the_ground_truth(
    fleet: Fleet, events: Callable[..., Any]
) -> None:
    lan = fleet.lan
    assert_ingest_answers_by_address(fleet)

    run_dir = fleet.tmp / "run"
    started = time.monotonic()
    result = lan.run("site", fleet.master_args(run_dir, "--listen", f"{fleet.address('site')}:0"),
                     env=fleet.master_env(), capture_output=True, text=True,
                     timeout=200)  # fmt: skip
    crawl_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]

    # The batch endpoint is advertised at the master's host address (workers are elsewhere).
    (server,) = events(result.stdout + result.stderr, "batch_server_started")
    assert server["url"].startswith(f"http://{fleet.address('site')}:"), server

    items = fleet.landed()
    urls = Counter(item["url"] for item in items)
    assert set(urls) == fleet.listing_urls()
    assert max(urls.values()) == 1, "a listing landed twice"
    assert {item["node"] for item in items} == {spec.name for spec in fleet.nodes}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ok"] and summary["items"] == TOTAL, summary
    # Every upload came over the LAN from a node's own address.
    landed = events((fleet.tmp / "logs" / "ftpsink.log").read_text(), "landed")
    assert len(landed) == len(list(fleet.items.glob("*.jl")))
    node_addresses = {fleet.address(host) for host in NODES}
    assert {event["client"].rpartition(":")[0] for event in landed} == node_addresses

    # Spark on the ingest host, over what landed: the site's planted ground truth.
    output = fleet.tmp / "analytics"
    spark = lan.run(
        "ingest",
        [BIN / "boostwords", fleet.items, "--output", output,
         "--checkpoint", fleet.tmp / "checkpoint", "--available-now", "--master", "local[2]",
         "--log-format", "json"],
        env=os.environ | {"SPARK_LOCAL_IP": "127.0.0.1"},  # the ingest host's own loopback
        capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert spark.returncode == 0, spark.stderr[-3000:]
    shifts = json.loads((output / "shifts.json").read_text())
    assert shifts["listings"] == TOTAL and shifts["bad_records"] == 0
    truth = Catalog(TOTAL, seed=0).truth()
    got = {row["word"]: row for row in shifts["words"]}
    assert got.keys() == truth.keys()
    for word, want in truth.items():
        assert got[word]["count"] == want.count, word
        assert got[word]["shift"] == pytest.approx(want.shift, abs=1e-9), word
    print(f"crawl {crawl_seconds:.1f}s")


@pytest.mark.parametrize("fleet", ["wildcard"], indirect=True)
def test_a_node_host_dies_mid_crawl_nothing_is_lost(
    fleet: Fleet,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
    events: Callable[..., Any],
) -> None:
    lan, site = fleet.lan, fleet.address("site")
    run_dir = fleet.tmp / "run"
    assert_ingest_answers_by_address(fleet)  # ftpsink on 0.0.0.0 still names its address
    # Regression: a batch endpoint on 0.0.0.0 was advertised as http://0.0.0.0:PORT, which
    # works on one machine (0.0.0.0 reaches loopback) and fails every worker on another host.
    refused = lan.run("site", fleet.master_args(run_dir, "--listen", "0.0.0.0:0"),
                      env=fleet.master_env(), capture_output=True, text=True,
                      timeout=60)  # fmt: skip
    assert refused.returncode == 2 and "--advertise-url" in refused.stderr, refused.stderr
    assert not run_dir.exists()

    victim_host, victim = NODES[1], fleet.nodes[1]
    with _log(fleet.tmp / "logs" / "master.out") as out:
        master = lan.popen(
            "site",
            fleet.master_args(run_dir, "--listen", f"0.0.0.0:{MASTER_PORT}",
                              "--advertise-url", f"http://{site}:{MASTER_PORT}",
                              "--node-timeout", "5"),
            env=fleet.master_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    wait_for(
        lambda: ledger_rows(run_dir, f"SELECT id FROM batches WHERE node = '{victim.name}'"
                            " AND state = 'running'"),
        timeout=90, what=f"a batch running on {victim.name}",
    )  # fmt: skip
    killed = lan.kill_host(victim_host)  # scrapyd and its job processes: the machine dies
    lan.link_down(victim_host)  # and its address goes silent (no RST), as a dead machine's
    assert killed and not lan.pids(victim_host)

    code = master.wait(timeout=200)
    output = (fleet.tmp / "logs" / "master.out").read_text()
    assert code == 0, output[-3000:]

    urls = Counter(item["url"] for item in fleet.landed())
    assert set(urls) == fleet.listing_urls()
    assert max(urls.values()) == 1, "a listing landed twice"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ok"] and summary["items"] == TOTAL
    assert victim.name in summary["troubled_nodes"], summary["troubled_nodes"]
    moved = {a["batch"] for a in summary["failed_attempts"] if a["node"] == victim.name}
    assert moved and moved <= set(summary["retried_batches"])
    for batch, node in ledger_rows(run_dir, "SELECT id, node FROM batches"):
        if batch in moved:
            assert node != victim.name
    (server,) = events(output, "batch_server_started")
    assert server["url"] == f"http://{site}:{MASTER_PORT}"
