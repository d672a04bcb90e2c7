"""`monitor`: poll scrapyd nodes and report their jobs as structured events or a live table;
optionally a live web console, Prometheus metrics and webhook alerts. Options: `arguments`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence

import aiohttp
import structlog

from scrapyfleet.core.contracts import PROJECT, Events
from scrapyfleet.core.exposed import warn_inline_passwords
from scrapyfleet.core.logs import configure_logging, default_format
from scrapyfleet.core.metrics import Address, start_exporter
from scrapyfleet.core.targets import (
    Target,
    TargetConfigError,
    UnknownTargetError,
    default_project,
    find_config,
    resolve_targets,
)
from scrapyfleet.monitor import consolesetup
from scrapyfleet.monitor.alerts import Alerts
from scrapyfleet.monitor.arguments import URL_OPTIONS, build_parser, web_credentials
from scrapyfleet.monitor.console import ConsoleTable
from scrapyfleet.monitor.daemon import Monitor, PollReport, run
from scrapyfleet.monitor.metrics import MonitorMetrics
from scrapyfleet.monitor.snapshot import FleetState
from scrapyfleet.monitor.sources import SourceOptions, Sources
from scrapyfleet.monitor.watch import Watch
from scrapyfleet.monitor.web import Gate, Hub, make_app, serve

__all__ = ["build_parser", "main"]


class StartupError(Exception):
    """The monitor cannot start as asked (an address taken, ...): exit 2 with the message."""


def log_report(report: PollReport) -> None:
    """Write the poll's events through structlog."""
    log = structlog.get_logger("scrapyfleet.monitor")
    for event in report.events:
        getattr(log, event.level)(event.name, **event.fields)


def _bound(what: str, where: Address, error: OSError) -> StartupError:
    return StartupError(f"{what} {where}: cannot listen: {error.strerror or error}")


async def _monitor(
    targets: Sequence[Target],
    project: str,
    args: argparse.Namespace,
    show: Callable[[PollReport], None],
    credentials: Gate | None,
) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log = structlog.get_logger("scrapyfleet.monitor")
    connector = aiohttp.TCPConnector(limit=max(100, 2 * len(targets)))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        contextlib.AsyncExitStack() as stack,
    ):
        monitor = Monitor(targets, project, session, args.timeout)
        options = SourceOptions(
            args.crawl_metrics, args.ftpsink_metrics, args.items, args.analytics_output
        )
        sources = Sources(options, session, args.timeout)
        state = FleetState(targets, project, args.interval, args.words)
        hub = Hub()
        metrics = None
        if args.metrics is not None:
            metrics = MonitorMetrics(targets)
            try:
                exporter = start_exporter(args.metrics, metrics.registry)
            except OSError as e:
                raise _bound("--metrics", args.metrics, e) from None
            stack.callback(exporter.close)
            log.info("metrics_serving", url=exporter.url)
        alerts = None
        if args.alert_webhook:
            alerts = Alerts(args.alert_webhook, session, outcome=metrics.alert if metrics else None)
            stack.push_async_callback(alerts.close)
        if args.web is not None:
            named, api = {t.name: t for t in targets}, None
            if args.state_dir is not None:
                control, api = consolesetup.control_api(
                    args, credentials, hub, named, project, session, alerts
                )
                stack.callback(control.close)
                stack.push_async_callback(
                    consolesetup.stopped, asyncio.create_task(control.run(stop))
                )
            app = make_app(hub, named, session, args.timeout, credentials, api)
            try:
                runner, url = await serve(app, args.web)
            except OSError as e:
                raise _bound("--web", args.web, e) from None
            stack.push_async_callback(runner.cleanup)
            stack.callback(hub.close)
            log.info(Events.WEB_CONSOLE, url=url, auth=credentials is not None)
        publish = hub.publish if args.web is not None else None
        watch = Watch(monitor, sources, state, publish, metrics, alerts)
        return await run(watch, args.interval, show, stop, once=args.once)


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
    credentials: Gate | None = consolesetup.accounts(parser, args) or web_credentials(parser, args)
    fmt = args.log_format or default_format(sys.stdout)
    configure_logging(fmt, args.log_level, stream=sys.stdout if fmt == "json" else sys.stderr)
    warn_inline_passwords(sys.argv[1:] if argv is None else argv, "monitor", URL_OPTIONS)
    show = log_report if fmt == "json" else ConsoleTable(sys.stdout)
    try:
        all_up = asyncio.run(_monitor(targets, project, args, show, credentials))
    except StartupError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    return 0 if all_up or not args.once else 1


if __name__ == "__main__":
    sys.exit(main())
