"""A local scrapyd cluster: `cluster up|down|status|run`.

Each node lives in its own working directory (`<dir>/scrapydN/`) with its `scrapyd.conf` and a
`scrapy.cfg` whose `[settings]` section serves the egg-less `fleetdemo` project (the built-in
demo) from this venv.
`<dir>/scrapy.cfg` holds the `[deploy:scrapydN]` targets that crawl-master and the monitor use.
Nodes are stopped by the PIDs recorded in `<dir>/scrapydN/scrapyd.pid`, process group and all.
Once every node answers (`cluster_ready`), each is asked for the project's spiders, so that the
`scrapy list` scrapyd runs for the first such request is not paid by a crawl's first call.

With `--user` (password from SCRAPYFLEET_CLUSTER_PASSWORD or `--password-file`, never the command
line) every node requires HTTP basic auth: each node gets the credentials in its environment
(scrapyd's `SCRAPYD_USERNAME`/`SCRAPYD_PASSWORD`, so nothing in its directory holds them), and the
deploy targets in `<dir>/scrapy.cfg`, written 0600, carry them for crawl-master, the monitor and
`--deploy`. A bind address other than loopback is refused without them: an open scrapyd runs
anyone's egg.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import structlog

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.files import PRIVATE, READABLE, write_text_atomic
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults, at_least, port_number, seconds
from scrapyfleet.core.procs import is_loopback, stop_group, url_ok
from scrapyfleet.core.targets import resolve_targets

log = structlog.get_logger("scrapyfleet.demo.cluster")

SETTINGS_MODULE = "scrapyfleet.crawler.settings"
DEFAULT_DIR = Path("infra/cluster")
STOP_DEADLINE = 10.0
LIST_TIMEOUT = 120.0  # `scrapy list` on a node of a busy machine

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


class Credentials(NamedTuple):
    """HTTP basic auth of every node."""

    user: str
    password: str

    def header(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    host: str
    port: int
    slots: int
    root: Path
    auth: Credentials | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.root / "scrapyd.pid"


def node_specs(
    directory: Path,
    nodes: int,
    host: str,
    base_port: int,
    slots: int,
    auth: Credentials | None = None,
) -> list[NodeSpec]:
    return [
        NodeSpec(f"scrapyd{i}", host, base_port + i - 1, slots, directory / f"scrapyd{i}", auth)
        for i in range(1, nodes + 1)
    ]


def write_configs(
    directory: Path, specs: list[NodeSpec], projects: dict[str, str] | None = None
) -> Path:
    """Each node's working directory and the cluster's `scrapy.cfg` of deploy targets.

    `projects` maps egg-less project names to settings modules (default: the demo's
    `fleetdemo`, named so that it never shadows a user project).
    """
    projects = projects or {PROJECT: SETTINGS_MODULE}
    node_cfg = NODE_CFG + "".join(f"{name} = {module}\n" for name, module in projects.items())
    deploy = ["# Deploy targets of the local cluster (crawl-master/monitor --targets 'scrapyd*')."]
    for spec in specs:
        spec.root.mkdir(parents=True, exist_ok=True)
        conf = NODE_CONF.format(host=spec.host, port=spec.port, slots=spec.slots)
        section = [
            f"\n[deploy:{spec.name}]",
            f"url = {spec.url}",
            f"project = {next(iter(projects))}",
            f"slots = {spec.slots}",
        ]
        if spec.auth is not None:
            section += [f"username = {spec.auth.user}", f"password = {spec.auth.password}"]
        write_text_atomic(spec.root / "scrapyd.conf", conf)
        write_text_atomic(spec.root / "scrapy.cfg", node_cfg)
        deploy += section
    config = directory / "scrapy.cfg"
    write_text_atomic(config, "\n".join(deploy) + "\n", _mode(*specs))
    return config


def _mode(*specs: NodeSpec) -> int:
    """Files holding credentials are the owner's alone."""
    return PRIVATE if any(spec.auth for spec in specs) else READABLE


def configured_auth(spec: NodeSpec, directory: Path) -> Credentials | None:
    """The node's credentials in the cluster's deploy targets (what `cluster up` wrote), if any."""
    config = directory / "scrapy.cfg"
    if not config.is_file():
        return None
    try:
        (target,) = resolve_targets([spec.name], config)
    except (LookupError, ValueError):
        return None
    if target.username and target.password:
        return Credentials(target.username, target.password)
    return None


def answers(url: str, timeout: float = 1.0, auth: Credentials | None = None) -> bool:
    """Whether the scrapyd node at `url` answers `daemonstatus.json` (with `auth`, if set)."""
    return url_ok(f"{url}/daemonstatus.json", timeout, auth.header() if auth else None)


def node_environment(spec: NodeSpec, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a node's scrapyd runs in: `env` (default ours) with the node's credentials,
    if it has any (scrapyd's own variables; its jobs inherit them and prove their attempts)."""
    environment = dict(os.environ if env is None else env)
    if spec.auth is not None:
        environment |= {"SCRAPYD_USERNAME": spec.auth.user, "SCRAPYD_PASSWORD": spec.auth.password}
    return environment


def start_node(spec: NodeSpec, env: Mapping[str, str] | None = None) -> int:
    """Start one scrapyd in its directory, in its own process group; returns its PID."""
    if answers(spec.url, auth=spec.auth):
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
            env=node_environment(spec, env),
        )
    spec.pidfile.write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


def wait_ready(specs: list[NodeSpec], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(specs)
    while waiting:
        waiting = [s for s in waiting if not answers(s.url, auth=s.auth)]
        if waiting and time.monotonic() > deadline:
            names = ", ".join(s.name for s in waiting)
            raise TimeoutError(f"{names} did not answer within {timeout}s (see scrapyd.out)")
        if waiting:
            time.sleep(0.1)


def list_spiders(specs: list[NodeSpec], project: str = PROJECT) -> None:
    """Ask every node for `project`'s spiders at once. scrapyd runs `scrapy list` for the first
    such request (its reactor blocked meanwhile) and caches the answer: a crawl's first
    `listspiders.json` or `schedule.json` then answers at once."""
    started = time.monotonic()

    def ask(spec: NodeSpec) -> bool:
        url = f"{spec.url}/listspiders.json?project={project}"
        return url_ok(url, LIST_TIMEOUT, spec.auth.header() if spec.auth else None)

    with ThreadPoolExecutor(len(specs)) as pool:
        listed = dict(zip((s.name for s in specs), pool.map(ask, specs), strict=True))
    log.info("spiders_listed", project=project, nodes=listed,
             seconds=round(time.monotonic() - started, 2))  # fmt: skip


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
    return node_specs(args.dir, args.nodes, args.host, args.base_port, args.slots, args.auth)


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
    list_spiders(specs)
    return specs


def cmd_down(args: argparse.Namespace) -> None:
    for spec in _specs_from_args(args):
        if stop_node(spec):
            log.info("node_stopped", node=spec.name, url=spec.url)


def cmd_status(args: argparse.Namespace) -> int:
    down = 0
    for spec in _specs_from_args(args):
        up = answers(spec.url, auth=spec.auth or configured_auth(spec, args.dir))
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


ENV = EnvDefaults("cluster")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cluster",
        description="Start, stop or check the local scrapyd cluster (egg-less `fleetdemo`).",
        epilog=ENV.epilog("base-port") + " The nodes' password: SCRAPYFLEET_CLUSTER_PASSWORD "
        "or --password-file (never on the command line).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("command", choices=["up", "down", "status", "run"],
                   help="up: start in the background; run: start and stop on Ctrl-C")  # fmt: skip
    p.add_argument(
        "--dir", type=Path, default=ENV("dir", str(DEFAULT_DIR)), help="cluster directory"
    )
    p.add_argument("--nodes", type=at_least(1), default=ENV("nodes", "3"), help="scrapyd nodes")
    p.add_argument(
        "--host",
        default=ENV("host", "127.0.0.1"),
        help="address every node binds; other than loopback only with --user",
    )
    p.add_argument("--base-port", type=port_number, default=ENV("base-port", "6801"),
                   help="port of node 1; node N: +N-1")  # fmt: skip
    p.add_argument("--slots", type=at_least(1), default=ENV("slots", "2"),
                   help="scrapyd max_proc of every node")  # fmt: skip
    p.add_argument("--timeout", type=seconds, default=ENV("timeout", "30"),
                   help="seconds to wait for readiness")  # fmt: skip
    p.add_argument(
        "--user",
        default=ENV("user"),
        help="require HTTP basic auth on every node, as this user (status and down read the "
        "nodes' own credentials when not given)",
    )
    p.add_argument(
        "--password-file",
        type=Path,
        default=ENV("password-file"),
        help="file whose first line is the nodes' password (else SCRAPYFLEET_CLUSTER_PASSWORD)",
    )
    return p


def credentials(args: argparse.Namespace) -> Credentials | None:
    """The nodes' credentials from the options; ValueError says what is missing or unsafe."""
    password = ENV("password", "")
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    if args.user and not password:
        raise ValueError(
            "--user needs a password: set SCRAPYFLEET_CLUSTER_PASSWORD or --password-file"
        )
    if password and not args.user:
        raise ValueError("a password was given without --user")
    auth = Credentials(args.user, password) if args.user else None
    if auth is None and args.command in ("up", "run") and not is_loopback(args.host):
        raise ValueError(
            f"refusing to start scrapyd on {args.host} without auth: anyone who reaches an open "
            "node can upload an egg and run code; use --user with a password, or a loopback host"
        )
    return auth


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging()
    try:
        args.auth = credentials(args)
    except (OSError, ValueError) as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 2
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
