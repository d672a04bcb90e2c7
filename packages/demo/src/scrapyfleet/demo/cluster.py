"""A local scrapyd cluster: `cluster up|down|status|run`.

Each node lives in its own working directory (`<dir>/scrapydN/`) with its `scrapyd.conf` and a
`scrapy.cfg` whose `[settings]` section serves the egg-less `properties` project from this venv.
`<dir>/scrapy.cfg` holds the `[deploy:scrapydN]` targets that crawl-master and the monitor use.
Nodes are stopped by the PIDs recorded in `<dir>/scrapydN/scrapyd.pid`, process group and all.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.procs import stop_group, url_ok

log = structlog.get_logger("scrapyfleet.demo.cluster")

SETTINGS_MODULE = "scrapyfleet.crawler.settings"
DEFAULT_DIR = Path("infra/cluster")
STOP_DEADLINE = 10.0

NODE_CONF = """\
[scrapyd]
bind_address = {host}
http_port = {port}
max_proc = {slots}
poll_interval = 0.5
eggs_dir = eggs
logs_dir = logs
dbs_dir = dbs
# Empty on purpose: a set items_dir overrides the project's FEEDS (the FTP upload).
items_dir =
jobs_to_keep = 50
finished_to_keep = 1000
jobstorage = scrapyd.jobstorage.SqliteJobStorage
"""

NODE_CFG = """\
# scrapyd reads this from its working directory: its egg-less projects (name = settings module).
[settings]
"""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    host: str
    port: int
    slots: int
    root: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.root / "scrapyd.pid"


def node_specs(
    directory: Path, nodes: int, host: str, base_port: int, slots: int
) -> list[NodeSpec]:
    return [
        NodeSpec(f"scrapyd{i}", host, base_port + i - 1, slots, directory / f"scrapyd{i}")
        for i in range(1, nodes + 1)
    ]


def write_configs(
    directory: Path, specs: list[NodeSpec], projects: dict[str, str] | None = None
) -> Path:
    """Each node's working directory and the cluster's `scrapy.cfg` of deploy targets.

    `projects` maps egg-less project names to settings modules (default: `properties`).
    """
    projects = projects or {PROJECT: SETTINGS_MODULE}
    node_cfg = NODE_CFG + "".join(f"{name} = {module}\n" for name, module in projects.items())
    deploy = ["# Deploy targets of the local cluster (crawl-master/monitor --targets 'scrapyd*')."]
    for spec in specs:
        spec.root.mkdir(parents=True, exist_ok=True)
        conf = NODE_CONF.format(host=spec.host, port=spec.port, slots=spec.slots)
        (spec.root / "scrapyd.conf").write_text(conf, encoding="utf-8")
        (spec.root / "scrapy.cfg").write_text(node_cfg, encoding="utf-8")
        deploy += [
            f"\n[deploy:{spec.name}]",
            f"url = {spec.url}",
            f"project = {next(iter(projects))}",
            f"slots = {spec.slots}",
        ]
    config = directory / "scrapy.cfg"
    config.write_text("\n".join(deploy) + "\n", encoding="utf-8")
    return config


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether the scrapyd node at `url` answers `daemonstatus.json`."""
    return url_ok(f"{url}/daemonstatus.json", timeout)


def start_node(spec: NodeSpec, env: dict[str, str] | None = None) -> int:
    """Start one scrapyd in its directory, in its own process group; returns its PID."""
    if answers(spec.url):
        raise RuntimeError(f"{spec.url} already answers: is {spec.name} running?")
    with (spec.root / "scrapyd.out").open("ab") as out:
        process = subprocess.Popen(
            # No twistd.pid: the PID is ours to keep, and a stale one (a node that died with
            # kill -9) would stop the node from starting again.
            [sys.executable, "-m", "scrapyd", "--pidfile="],
            cwd=spec.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    spec.pidfile.write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


def wait_ready(specs: list[NodeSpec], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(specs)
    while waiting:
        waiting = [s for s in waiting if not answers(s.url)]
        if waiting and time.monotonic() > deadline:
            names = ", ".join(s.name for s in waiting)
            raise TimeoutError(f"{names} did not answer within {timeout}s (see scrapyd.out)")
        if waiting:
            time.sleep(0.1)


def stop_node(spec: NodeSpec) -> bool:
    """Stop the node recorded in its pidfile (its job processes too). False if none ran."""
    try:
        pid = int(spec.pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    stop_group(pid, grace=STOP_DEADLINE)
    spec.pidfile.unlink(missing_ok=True)
    return True


def _specs_from_args(args: argparse.Namespace) -> list[NodeSpec]:
    return node_specs(args.dir, args.nodes, args.host, args.base_port, args.slots)


def cmd_up(args: argparse.Namespace) -> list[NodeSpec]:
    specs = _specs_from_args(args)
    config = write_configs(args.dir, specs)
    pids = [start_node(spec) for spec in specs]
    try:
        wait_ready(specs, args.timeout)
    except TimeoutError:
        for spec in specs:
            stop_node(spec)
        raise
    log.info("cluster_ready", nodes=[s.url for s in specs], pids=pids, config=str(config))
    return specs


def cmd_down(args: argparse.Namespace) -> None:
    for spec in _specs_from_args(args):
        if stop_node(spec):
            log.info("node_stopped", node=spec.name, url=spec.url)


def cmd_status(args: argparse.Namespace) -> int:
    down = 0
    for spec in _specs_from_args(args):
        up = answers(spec.url)
        down += not up
        log.info("node", node=spec.name, url=spec.url, up=up)
    return 0 if down == 0 else 1


def cmd_run(args: argparse.Namespace) -> None:
    """Up, then wait for SIGINT/SIGTERM, then down."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    specs = cmd_up(args)
    stop.wait()
    for spec in reversed(specs):
        stop_node(spec)
    log.info("cluster_stopped", nodes=len(specs))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cluster",
        description="Start, stop or check the local scrapyd cluster (egg-less `properties`).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("command", choices=["up", "down", "status", "run"],
                   help="up: start in the background; run: start and stop on Ctrl-C")  # fmt: skip
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="cluster directory")
    p.add_argument("--nodes", type=int, default=3, help="number of scrapyd nodes")
    p.add_argument("--host", default="127.0.0.1", help="address every node binds")
    p.add_argument("--base-port", type=int, default=6801, help="port of node 1; node N: +N-1")
    p.add_argument("--slots", type=int, default=2, help="scrapyd max_proc of every node")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for readiness")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging()
    try:
        if args.command == "up":
            cmd_up(args)
        elif args.command == "down":
            cmd_down(args)
        elif args.command == "status":
            return cmd_status(args)
        else:
            cmd_run(args)
    except (RuntimeError, TimeoutError) as exc:
        log.error("cluster_failed", reason=str(exc))
        return 1
    return 0
