"""`monitor`: poll scrapyd nodes and report their jobs as structured events or a live table."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp
import structlog

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.logs import configure_logging, default_format
from scrapyfleet.core.options import EnvDefaults
from scrapyfleet.core.targets import (
    Target,
    TargetConfigError,
    UnknownTargetError,
    default_project,
    find_config,
    resolve_targets,
)
from scrapyfleet.monitor.console import ConsoleTable
from scrapyfleet.monitor.daemon import Monitor, PollReport, run

env = EnvDefaults("monitor")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line; each option's default comes from SCRAPYFLEET_MONITOR_<OPTION> if set."""
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Poll scrapyd nodes (daemonstatus.json, listjobs.json) and report each node's "
        "jobs as JSON-line events or a live console table.",
        epilog=env.epilog("targets"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        metavar="TARGET",
        default=env("targets", "*").split(),
        help="deploy names or shell-style patterns over the [deploy:NAME] sections of scrapy.cfg, "
        "and/or http(s)://[user:pass@]host:port URLs",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="scrapy.cfg to read targets from; if %(default)s, the nearest one from the working "
        "directory upward",
    )
    parser.add_argument(
        "--project",
        default=env("project"),
        help="scrapyd project whose jobs are listed; if %(default)s, scrapy.cfg's deploy "
        f"project, else {PROJECT!r}",
    )
    parser.add_argument(
        "--interval",
        type=_positive,
        default=env("interval", "5.0"),
        help="seconds between polls",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=env("timeout", "3.0"),
        help="seconds each request to a node may take",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll once; exit 0 if every node answered, 1 otherwise",
    )
    parser.add_argument(
        "--format",
        choices=["json", "console"],
        default=env("format"),
        help="json: one event per line; console: a table refreshed in place; "
        "if %(default)s, console on a TTY, json otherwise",
    )
    parser.add_argument(
        "--log-level", default=env("log_level", "INFO"), help="lowest level of events written"
    )
    return parser


def log_report(report: PollReport) -> None:
    """Write the poll's events through structlog."""
    log = structlog.get_logger("scrapyfleet.monitor")
    for event in report.events:
        getattr(log, event.level)(event.name, **event.fields)


async def _monitor(
    targets: Sequence[Target],
    project: str,
    args: argparse.Namespace,
    show: Callable[[PollReport], None],
) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    connector = aiohttp.TCPConnector(limit=max(100, 2 * len(targets)))
    async with aiohttp.ClientSession(connector=connector) as session:
        monitor = Monitor(targets, project, session, args.timeout)
        return await run(monitor, args.interval, show, stop, once=args.once)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `monitor` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = args.config or find_config()
    if args.config is not None and not args.config.is_file():
        parser.error(f"no such config file: {args.config}")
    try:
        targets = resolve_targets(args.targets, config)
    except (UnknownTargetError, TargetConfigError) as e:
        parser.error(str(e))
    project = args.project or default_project(config) or PROJECT
    fmt = args.format or default_format(sys.stdout)
    configure_logging(fmt, args.log_level, stream=sys.stdout if fmt == "json" else sys.stderr)
    show = log_report if fmt == "json" else ConsoleTable(sys.stdout)
    all_up = asyncio.run(_monitor(targets, project, args, show))
    return 0 if all_up or not args.once else 1


if __name__ == "__main__":
    sys.exit(main())
