"""Real processes for crawler tests: demo site, ftpsink, scrapyd nodes, and crawl-master runs.

Every server binds 127.0.0.1 on a free port and is stopped by PID at teardown.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.procs import stop_group, url_ok
from scrapyfleet.core.scrapydnodes import NodeSpec, answers, start_node, stop_node, write_configs
from scrapyfleet.crawler.master.landing import KEY_ENV as RECEIPT_KEY_ENV

BIN = Path(sys.executable).parent
# The landing-receipt key of this test run, shared by every ftpsink and crawl-master it starts.
RECEIPT_KEY = secrets.token_hex(32)
BUILT_IN = {PROJECT: "scrapyfleet.crawler.settings"}  # the egg-less project the nodes serve


@dataclass
class Site:
    url: str
    total: int
    process: subprocess.Popen[bytes]

    def listing_urls(self) -> set[str]:
        from scrapyfleet.demosite.catalog import Catalog

        catalog = Catalog(total=self.total)
        return {self.url + catalog.listing_path(i) for i in range(self.total)}


@dataclass
class Sink:
    port: int
    root: Path
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    users: str = ""  # SCRAPYFLEET_FTPSINK_USERS: NAME:PASSWORD,... (anonymous upload when empty)
    receipt_key: str | None = RECEIPT_KEY  # None: a sink that signs no receipt

    @property
    def feed_uri(self) -> str:
        """The workers' feed URI; with accounts, the first user's, without its password."""
        user = self.users.partition(":")[0] if self.users else "anonymous:test"
        return f"ftp://{user}@127.0.0.1:{self.port}/%(batch)s_%(name)s_%(time)s.jl"

    def start(self) -> None:
        assert self.log is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYFLEET_FTPSINK_")}
        if self.users:
            env["SCRAPYFLEET_FTPSINK_USERS"] = self.users
        if self.receipt_key is not None:
            env["SCRAPYFLEET_FTPSINK_RECEIPT_KEY"] = self.receipt_key
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [BIN / "ftpsink", "--port", str(self.port), "--root", str(self.root),
                 "--passive-ports", "0", "--log-format", "json"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process.pid)

    def items(self) -> list[dict[str, Any]]:
        """Every item line of every landed file (staging excluded)."""
        lines: list[dict[str, Any]] = []
        for path in sorted(self.root.glob("*.jl")):
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
        return lines


@dataclass
class Cluster:
    directory: Path
    nodes: list[NodeSpec] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.directory / "scrapy.cfg"

    def stop(self) -> None:
        for spec in self.nodes:
            stop_node(spec)


@pytest.fixture
def site_factory(
    free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Callable[..., Site]]:
    started: list[Site] = []

    def start(total: int, latency: float = 0.0, faults: Path | None = None) -> Site:
        """A demo site; `faults` names its fault plan (scrapyfleet.demosite.faults)."""
        port = free_port()
        extra = ["--faults", str(faults)] if faults is not None else []
        process = subprocess.Popen(
            [BIN / "demosite", "--port", str(port), "--total", str(total),
             "--latency", str(latency), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        site = Site(f"http://127.0.0.1:{port}", total, process)
        started.append(site)
        wait_for(lambda: url_ok(site.url + "/health"), timeout=30, what="demo site")
        return site

    yield start
    for site in started:
        stop_group(site.process.pid)


def listening(port: int) -> bool:
    """Does something accept TCP connections on 127.0.0.1:`port`?"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def start_sink(
    root: Path, port: int, wait_for: Callable[..., Any], users: str = "",
    receipt_key: str | None = RECEIPT_KEY, log: Path | None = None,
) -> Sink:  # fmt: skip
    """An ftpsink on `port` landing in `root` (made here), listening when it returns."""
    sink = Sink(port, root, log=log or root.with_suffix(".log"), users=users,
                receipt_key=receipt_key)  # fmt: skip
    sink.root.mkdir()
    sink.start()
    wait_for(lambda: listening(sink.port), timeout=30, what=f"ftpsink into {root.name}")
    return sink


def _sink(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any], users: str = ""
) -> Iterator[Sink]:
    sink = start_sink(
        tmp_path / "items", free_port(), wait_for, users, log=tmp_path / "ftpsink.log"
    )
    yield sink
    sink.stop()


@pytest.fixture
def sink(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Sink]:
    """ftpsink taking anonymous uploads."""
    yield from _sink(tmp_path, free_port, wait_for)


SINK_ACCOUNT = ("worker", "w0rker-pass")


@pytest.fixture
def account_sink(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Sink]:
    """ftpsink with one account (SINK_ACCOUNT) and no anonymous uploads."""
    yield from _sink(tmp_path, free_port, wait_for, ":".join(SINK_ACCOUNT))


@pytest.fixture
def cluster_factory(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Callable[..., Cluster]]:
    """Start scrapyd nodes, one per entry of `slots`, serving the egg-less project."""
    started: list[Cluster] = []

    def start(
        slots: list[int],
        name: str = "cluster",
        env: dict[str, str] | None = None,
        projects: dict[str, str] | None = None,
        auth: Credentials | None = None,
    ) -> Cluster:
        directory = tmp_path / name
        specs = [
            NodeSpec(f"scrapyd{i}", "127.0.0.1", free_port(), n, directory / f"scrapyd{i}", auth)
            for i, n in enumerate(slots, start=1)
        ]
        write_configs(directory, specs, projects or BUILT_IN)
        cluster = Cluster(directory, specs)
        started.append(cluster)
        for spec in specs:
            start_node(spec, env)
        for spec in specs:
            wait_for(lambda s=spec: answers(s.url, auth=auth), timeout=60,
                     what=f"{spec.name} to answer")  # fmt: skip
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def _run_master(
    args: list[str],
    timeout: float = 240.0,
    receipt_key: str | None = RECEIPT_KEY,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """crawl-master as users run it, checking landings with `receipt_key` (None: unconfirmed);
    JSON logs captured."""
    env = {k: v for k, v in (env or os.environ).items() if k != RECEIPT_KEY_ENV}
    if receipt_key is not None:
        env[RECEIPT_KEY_ENV] = receipt_key
    return subprocess.run(
        [BIN / "crawl-master", "--log-format", "json", "--progress", "log", *args],
        capture_output=True, text=True, timeout=timeout, env=env, **kwargs,
    )  # fmt: skip


@pytest.fixture
def run_master() -> Callable[..., subprocess.CompletedProcess[str]]:
    return _run_master
