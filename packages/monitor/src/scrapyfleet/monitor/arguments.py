"""The `monitor` command line: its options (each default from SCRAPYFLEET_MONITOR_<OPTION>)
and the console credentials they give."""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.credentials import Credentials, read_password, refuse_open
from scrapyfleet.core.metrics import address
from scrapyfleet.core.options import EnvDefaults, Repeated, at_least, env_name
from scrapyfleet.monitor import consolesetup

env = EnvDefaults("monitor")
# Options whose URLs may carry a password (warned about on the command line: core.exposed).
URL_OPTIONS = ("targets", "alert-webhook", "crawl-metrics", "ftpsink-metrics")
PASSWORD_ENV = "SCRAPYFLEET_MONITOR_WEB_PASSWORD"


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
