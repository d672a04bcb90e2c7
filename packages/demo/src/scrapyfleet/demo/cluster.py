"""A local scrapyd cluster: `cluster up|down|status|run`.

Each node lives in its own working directory (`<dir>/scrapydN/`) with its `scrapyd.conf` and a
`scrapy.cfg` whose `[settings]` section serves the egg-less `fleetdemo` project (the built-in
demo) from this venv.
`<dir>/scrapy.cfg` holds the `[deploy:scrapydN]` targets that crawl-master and the monitor use.
Nodes are stopped by the PIDs recorded in `<dir>/scrapydN/scrapyd.pid`, process group and all
(the node processes themselves: `scrapyfleet.core.scrapydnodes`). Once every node answers
(`cluster_ready`), each is asked for the project's spiders, so that the `scrapy list` scrapyd runs
for the first such request is not paid by a crawl's first call.

With `--user` (password from SCRAPYFLEET_CLUSTER_PASSWORD or `--password-file`, never the command
line) every node requires HTTP basic auth: each node gets the credentials in its environment
(scrapyd's `SCRAPYD_USERNAME`/`SCRAPYD_PASSWORD`, so nothing in its directory holds them), and the
deploy targets in `<dir>/scrapy.cfg`, written 0600, carry them for crawl-master, the monitor and
`--deploy`. A bind address other than loopback is refused without them: an open scrapyd runs
anyone's egg.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.credentials import Credentials, read_password, refuse_open
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults, at_least, env_name, port_number, seconds
from scrapyfleet.core.procs import url_ok
from scrapyfleet.core.scrapydnodes import (
    NodeSpec,
    answers,
    configured_auth,
    node_specs,
    start_node,
    stop_node,
    wait_ready,
    write_configs,
)

log = structlog.get_logger("scrapyfleet.demo.cluster")

SETTINGS_MODULE = "scrapyfleet.crawler.settings"  # the egg-less `fleetdemo` every node serves
DEFAULT_DIR = Path("infra/cluster")
LIST_TIMEOUT = 120.0  # `scrapy list` on a node of a busy machine


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


def _specs_from_args(args: argparse.Namespace) -> list[NodeSpec]:
    return node_specs(args.dir, args.nodes, args.host, args.base_port, args.slots, args.auth)


def cmd_up(args: argparse.Namespace) -> list[NodeSpec]:
    specs = _specs_from_args(args)
    config = write_configs(args.dir, specs, {PROJECT: SETTINGS_MODULE})
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
    password = read_password(env_name("cluster", "password"), args.password_file)
    if args.user and not password:
        raise ValueError(
            "--user needs a password: set SCRAPYFLEET_CLUSTER_PASSWORD or --password-file"
        )
    if password and not args.user:
        raise ValueError("a password was given without --user")
    auth = Credentials(args.user, password) if args.user else None
    if args.command in ("up", "run"):
        refuse_open(
            args.host,
            auth is not None,
            f"refusing to start scrapyd on {args.host} without auth: anyone who reaches an open "
            "node can upload an egg and run code; use --user with a password, or a loopback host",
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
