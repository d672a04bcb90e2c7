"""The console's control options (`--state-dir`, `--users-file`, `--crawl-master`) and their
set-up: the accounts and who a request comes from, the control side and its `/api/` routes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.options import EnvDefaults
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.alerts import Alerts
from scrapyfleet.monitor.api import Api, Identify, make_api
from scrapyfleet.monitor.control import Control, ControlOptions
from scrapyfleet.monitor.crawlroutes import add_routes
from scrapyfleet.monitor.daemon import Event
from scrapyfleet.monitor.fleetroutes import fleet_routes
from scrapyfleet.monitor.roles import LOCAL, OPERATOR, Accounts, Principal
from scrapyfleet.monitor.web import Gate, Hub


def default_crawl_master() -> str:
    """crawl-master beside the Python running the monitor, else the one on PATH."""
    beside = Path(sys.executable).parent / "crawl-master"
    return str(beside) if beside.exists() else shutil.which("crawl-master") or "crawl-master"


def add_options(parser: argparse.ArgumentParser, env: EnvDefaults) -> None:
    group = parser.add_argument_group(
        "console control",
        "With --state-dir the console also runs the fleet (docs/console.md): crawl definitions "
        "and their crawl-master runs, scrapyd jobs, timers, alert rules, per-job stats, an "
        "audit log; every change needs an operator, the console's origin and a CSRF token.",
    )
    group.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        default=env("state_dir"),
        help="the console's state (console.sqlite, runs/ with each crawl's run directory); "
        "if %(default)s, the console only shows",
    )
    group.add_argument(
        "--users-file",
        type=Path,
        metavar="PATH",
        default=env("users_file"),
        help="accounts, one NAME:ROLE:HASH a line (ROLE viewer or operator; the line from "
        "`monitor-hash-password NAME ROLE`); every request then needs basic auth",
    )
    group.add_argument(
        "--crawl-master",
        metavar="PATH",
        default=env("crawl_master", default_crawl_master()),
        help="the crawl-master the console runs",
    )


def accounts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Accounts | None:
    """The --users-file accounts; exits 2 on a bad file or with --web-user as well."""
    if args.users_file is None:
        return None
    if args.web_user:
        parser.error("--users-file and --web-user: give one of them")
    try:
        return Accounts.from_file(args.users_file)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        parser.error(f"--users-file {args.users_file}: {e}")


def identify(gate: Gate | None) -> Identify:
    """Who a request comes from: an account's principal; --web-user's one credential is an
    operator; without accounts (loopback only) everyone is the local operator."""
    if isinstance(gate, Accounts):
        return gate.who
    if isinstance(gate, Credentials):
        user = Principal(gate.user, OPERATOR)
        return lambda header: user if gate.accept(header) else None
    return lambda header: LOCAL


def snapshot_nodes(hub: Hub) -> list[dict[str, Any]]:
    """The nodes of the latest snapshot, with their jobs (none before the first poll)."""
    return list(json.loads(hub.latest)["nodes"]) if hub.latest is not None else []


def nodes_up(hub: Hub) -> Mapping[str, bool]:
    """Every node's up/down as the latest poll saw it."""
    return {n["name"]: bool(n["up"]) for n in snapshot_nodes(hub)}


async def stopped(task: asyncio.Task[None]) -> None:
    """Cancel the control loop and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def control_api(
    args: argparse.Namespace,
    gate: Gate | None,
    hub: Hub,
    targets: Mapping[str, Target],
    project: str,
    session: aiohttp.ClientSession,
    alerts: Alerts | None,
) -> tuple[Control, web.Application]:
    """The control side and its `/api/` application."""
    notify: Callable[[Event], None] = alerts.send if alerts is not None else (lambda event: None)
    options = ControlOptions(args.state_dir, args.crawl_master)
    control = Control(options, session, args.timeout, notify, lambda: nodes_up(hub))
    api = Api(control, identify(gate), local=gate is None)
    nodes = fleet_routes(targets, session, args.timeout, project, lambda: snapshot_nodes(hub))
    routes = [add_routes, nodes]
    return control, make_api(api, routes)
