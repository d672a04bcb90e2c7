"""`monitor`: poll scrapyd nodes and report their jobs as structured events or a live table;
optionally a live web console, Prometheus metrics and webhook alerts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp
import structlog

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.credentials import Credentials, read_password, refuse_open
from scrapyfleet.core.exposed import warn_inline_passwords
from scrapyfleet.core.logs import configure_logging, default_format
from scrapyfleet.core.metrics import Address, address, start_exporter
from scrapyfleet.core.options import EnvDefaults, Repeated, at_least, env_name
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
from scrapyfleet.monitor.console import ConsoleTable
from scrapyfleet.monitor.daemon import Monitor, PollReport, run
from scrapyfleet.monitor.metrics import MonitorMetrics
from scrapyfleet.monitor.snapshot import FleetState
from scrapyfleet.monitor.sources import SourceOptions, Sources
from scrapyfleet.monitor.watch import Watch
from scrapyfleet.monitor.web import Gate, Hub, make_app, serve

env = EnvDefaults("monitor")
# Options whose URLs may carry a password (warned about on the command line: core.exposed).
URL_OPTIONS = ("targets", "alert-webhook", "crawl-metrics", "ftpsink-metrics")
PASSWORD_ENV = "SCRAPYFLEET_MONITOR_WEB_PASSWORD"


class StartupError(Exception):
    """The monitor cannot start as asked (an address taken, ...): exit 2 with the message."""


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
        "and/or http(s)://host:port URLs; a node's credentials go in a scrapy.cfg only you can "
        f"read (username, password) or in {env_name('monitor', 'targets')}="
        "http(s)://user:pass@host:port, never on the command line (ps shows it to every local "
        "user)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=env("config"),
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
        action=argparse.BooleanOptionalAction,
        default=env.flag("once"),
        help="poll once; exit 0 if every node answered, 1 otherwise",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default=env("log-format"),
        help="json: one event per line; console: a table refreshed in place; "
        "if %(default)s, console on a TTY, json otherwise",
    )
    parser.add_argument(
        "--log-level", default=env("log_level", "INFO"), help="lowest level of events written"
    )
    web = parser.add_argument_group(
        "web console, metrics and alerts",
        "The console is one page that updates live (server-sent events); every asset is "
        "served by the monitor itself. Where the crawl, ingest and analysis are comes only from "
        "these options.",
    )
    web.add_argument(
        "--web",
        type=address,
        metavar="HOST:PORT",
        default=env("web"),
        help="serve the web console there (port 0: any free port; the URL is logged as "
        "web_console); a non-loopback HOST requires --web-user and a password",
    )
    web.add_argument(
        "--web-user",
        metavar="NAME",
        default=env("web_user"),
        help=f"require basic auth as NAME, with the password from {PASSWORD_ENV} or "
        "--web-password-file (never the command line); plain HTTP: put TLS in front of a "
        "console reached over a network",
    )
    web.add_argument(
        "--web-password-file",
        type=Path,
        metavar="PATH",
        default=env("web_password_file"),
        help="file whose first line is the --web-user password",
    )
    web.add_argument(
        "--metrics",
        type=address,
        metavar="HOST:PORT",
        default=env("metrics"),
        help="serve the monitor's Prometheus metrics there (scrapyfleet_monitor_*; no auth)",
    )
    web.add_argument(
        "--crawl-metrics",
        metavar="URL",
        default=env("crawl_metrics"),
        help="crawl-master's Prometheus endpoint: the console's crawl panel, crawl_finished and "
        "crawl_failed alerts",
    )
    web.add_argument(
        "--ftpsink-metrics",
        metavar="URL",
        default=env("ftpsink_metrics"),
        help="ftpsink's Prometheus endpoint: uploads and bytes landed",
    )
    web.add_argument(
        "--items",
        type=Path,
        metavar="DIR",
        default=env("items"),
        help="ftpsink's landing directory: count its landed .jl files and bytes",
    )
    web.add_argument(
        "--analytics-output",
        type=Path,
        metavar="DIR",
        default=env("analytics_output"),
        help="the Spark job's output directory (shifts.json, progress.json)",
    )
    web.add_argument(
        "--words",
        type=at_least(1),
        default=env("words", "10"),
        help="top and bottom words the console lists",
    )
    web.add_argument(
        "--alert-webhook",
        action=Repeated,
        default=env("alert_webhook", "").split(),
        metavar="URL",
        help="POST node_down, node_recovered, job_vanished, crawl_finished and crawl_failed as "
        "JSON there (repeatable; retried with backoff, never holding up the polls); the "
        "environment variable takes URLs separated by spaces",
    )
    consolesetup.add_options(parser, env)
    return parser


def web_credentials(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> Credentials | None:
    """The console's credentials from --web-user and the password's env/file; exits 2 when a
    non-loopback --web has none, or half of them is given."""
    try:
        password = read_password(PASSWORD_ENV, args.web_password_file)
    except ValueError as e:
        parser.error(f"--web-password-file {e}")
    if args.web_user and not password:
        parser.error(f"--web-user needs a password: set {PASSWORD_ENV} or --web-password-file")
    if password and args.web_password_file is not None and not args.web_user:
        parser.error("--web-password-file needs --web-user")
    try:
        refuse_open(
            "127.0.0.1" if args.web is None else args.web.host,
            bool(args.web_user or args.users_file),
            f"--web {args.web} is not a loopback address: the console would be open to the "
            f"network; set --users-file, or --web-user and {PASSWORD_ENV} (or "
            "--web-password-file), to require basic auth, or bind 127.0.0.1",
        )
    except ValueError as e:
        parser.error(str(e))
    return Credentials(args.web_user, password) if args.web_user and password else None


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
            log.info("web_console", url=url, auth=credentials is not None)
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
