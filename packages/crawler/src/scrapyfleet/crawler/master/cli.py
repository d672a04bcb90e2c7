"""`crawl-master`: run a whole distributed crawl over scrapyd nodes and return when it is complete.

The master spider runs in this process (Scrapy on the asyncio reactor) with DistributedMiddleware
in master mode; batches go to the nodes, workers fetch them from this process and report back.
Exit 0 when every batch is done; 1 otherwise (failed batches are listed); 2 on bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import quote, urlsplit

import structlog
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.utils.project import get_project_settings

from scrapyfleet.core.files import PRIVATE, write_json_atomic
from scrapyfleet.core.logs import configure_logging, copy_to_file, quiet_loggers
from scrapyfleet.core.options import EnvDefaults, parse_pairs
from scrapyfleet.core.targets import (
    TargetConfigError,
    UnknownTargetError,
    find_config,
    resolve_targets,
)
from scrapyfleet.crawler import settings as defaults
from scrapyfleet.crawler.master.collector import interrupt, new_run_dir
from scrapyfleet.crawler.master.deploy import deploy
from scrapyfleet.crawler.master.reach import check_listen, check_nodes_reach
from scrapyfleet.crawler.master.summary import FAILED_NAME, SUMMARY_NAME
from scrapyfleet.crawler.spiders.distr import DistrSpider

log = structlog.get_logger("scrapyfleet.crawler.master")

OPTIONS_NAME = "options.json"
MASTER_LOG = "master.log"  # every event of the run, JSON lines
ENV = EnvDefaults("crawl-master")
TRUE = {"1", "true", "yes", "on"}


def parser() -> argparse.ArgumentParser:
    """crawl-master's options; defaults from the project's settings module, then the environment."""
    p = argparse.ArgumentParser(
        prog="crawl-master",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=ENV.epilog("batch-size"),
    )
    add = p.add_argument
    add(
        "--targets",
        nargs="+",
        default=ENV("targets", "scrapyd*").split(),
        help="scrapyd nodes: [deploy:NAME] names or globs of scrapy.cfg, or http:// URLs",
    )
    add(
        "--config",
        type=Path,
        default=ENV("config"),
        help="scrapy.cfg with the deploy targets (default: nearest one from the working dir)",
    )
    add("--project", default=ENV("project", defaults.BOT_NAME), help="scrapyd project")
    add(
        "--spider", default=ENV("spider", DistrSpider.name), help="spider run by master and workers"
    )
    add("--site", default=ENV("site", defaults.SITE_URL), help="site to crawl")
    add(
        "--index-pages",
        type=int,
        default=ENV("index-pages", str(defaults.SITE_INDEX_PAGES)),
        help="index pages of the site (spaces the shards; coverage never depends on it)",
    )
    add(
        "--shards",
        type=int,
        default=ENV("shards", str(defaults.SHARDS)),
        help="index shards crawled at once",
    )
    add(
        "--batch-size",
        type=int,
        default=ENV("batch-size", str(defaults.DISTRIBUTED_BATCH_SIZE)),
        help="URLs per batch",
    )
    add(
        "--first-batch-size",
        type=int,
        default=ENV("first-batch-size", str(defaults.DISTRIBUTED_FIRST_BATCH_SIZE)),
        help="size of the first batch; each next one doubles up to --batch-size "
        "(early first results, few process starts later); 0: --batch-size",
    )
    add(
        "--feed-uri",
        default=ENV("feed-uri", defaults.DISTRIBUTED_TARGET_FEED_URL),
        help="where workers export items (Scrapy FEEDS URI; %%(batch)s is the batch id); its "
        "password is best given as SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD: it is never written "
        "to the run directory, never logged and never on a job's command line",
    )
    add(
        "--concurrency",
        type=int,
        default=ENV("concurrency", str(defaults.DISTRIBUTED_WORKER_CONCURRENCY)),
        help="CONCURRENT_REQUESTS of every worker",
    )
    add(
        "--master-concurrency",
        type=int,
        default=ENV("master-concurrency", str(defaults.CONCURRENT_REQUESTS)),
        help="CONCURRENT_REQUESTS of the master's index crawl",
    )
    add(
        "--slots",
        type=int,
        default=ENV("slots", str(defaults.DISTRIBUTED_NODE_SLOTS)),
        help="slots of a node whose deploy section has no `slots`",
    )
    add(
        "--deploy",
        action="store_true",
        help="build the project egg and upload it to every node first (addversion.json)",
    )
    add(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for the master and every worker (repeatable)",
    )
    add(
        "--placement",
        choices=["free", "round-robin"],
        default=ENV("placement", defaults.DISTRIBUTED_PLACEMENT),
        help="free: node with most free slots; round-robin: the book's rotation",
    )
    add(
        "--max-attempts",
        type=int,
        default=ENV("max-attempts", str(defaults.DISTRIBUTED_MAX_ATTEMPTS)),
        help="attempts per batch before it fails the run",
    )
    add(
        "--node-timeout",
        type=float,
        default=ENV("node-timeout", str(defaults.DISTRIBUTED_NODE_TIMEOUT)),
        help="seconds a node may stay silent before its batches move elsewhere",
    )
    add(
        "--poll-interval",
        type=float,
        default=ENV("poll-interval", str(defaults.DISTRIBUTED_POLL_INTERVAL)),
        help="seconds between polls of the nodes (a worker's report wakes it at once)",
    )
    add(
        "--keep-workers",
        action=argparse.BooleanOptionalAction,
        default=ENV("keep-workers", str(defaults.DISTRIBUTED_KEEP_WORKERS)).lower() in TRUE,
        help="each job leases batch after batch in one Scrapy process (--no-keep-workers: one "
        "batch per job, a process start per batch)",
    )
    add(
        "--lease-timeout",
        type=float,
        default=ENV("lease-timeout", str(defaults.DISTRIBUTED_LEASE_TIMEOUT)),
        help="seconds a running job may be silent about its batch before it goes elsewhere",
    )
    add(
        "--run-dir",
        type=Path,
        default=ENV("run-dir"),
        help="ledger, log and summary (default: runs/<timestamp>)",
    )
    add(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        default=None,
        help="continue an interrupted run from its ledger (its options are reused)",
    )
    add(
        "--listen",
        default=ENV("listen", defaults.DISTRIBUTED_LISTEN),
        help="HOST:PORT of the batch endpoint workers call (0: any free port)",
    )
    add(
        "--advertise-url",
        default=ENV("advertise-url", defaults.DISTRIBUTED_ADVERTISE_URL or None),
        help="URL workers use to reach the batch endpoint (default: http://HOST:PORT)",
    )
    add(
        "--tls-cert",
        default=ENV("tls-cert", defaults.DISTRIBUTED_TLS_CERT or None),
        help="PEM certificate of the batch endpoint: serve it over HTTPS (workers then fetch "
        "batches and report over TLS)",
    )
    add("--tls-key", default=ENV("tls-key", defaults.DISTRIBUTED_TLS_KEY or None),
        help="the certificate's private key (if not in --tls-cert)")  # fmt: skip
    add(
        "--master-ca-file",
        default=ENV("master-ca-file", defaults.DISTRIBUTED_MASTER_CA_FILE or None),
        help="CA file the workers (on their nodes) trust for the endpoint's certificate "
        "(default: --tls-cert itself, right for a self-signed one)",
    )
    add(
        "--metrics",
        default=ENV("metrics", defaults.DISTRIBUTED_METRICS or None),
        help="HOST:PORT serving the crawl's Prometheus metrics (the monitor's --crawl-metrics "
        "reads them); no authentication, so keep it on loopback or a trusted network",
    )
    add(
        "--metrics-linger",
        type=float,
        default=ENV("metrics-linger", str(defaults.DISTRIBUTED_METRICS_LINGER)),
        help="seconds the metrics stay up after the run, so scrapers see its outcome",
    )
    add(
        "--progress",
        choices=["auto", "bar", "log", "off"],
        default=ENV("progress", "auto"),
        help="progress display (auto: a bar on a TTY, events otherwise)",
    )
    add(
        "--format",
        choices=["json", "console"],
        default=ENV("format"),
        help="log format (default: console on a TTY, JSON otherwise)",
    )
    add("--log-level", default=ENV("log-level", "INFO"), help="log level")
    return p  # fmt: skip


def load_options(argv: list[str] | None) -> argparse.Namespace:
    """Parse; with --resume, the run's saved options win over the defaults."""
    p = parser()
    args = p.parse_args(argv)
    if args.resume is not None:
        saved = args.resume / OPTIONS_NAME
        if not saved.is_file():
            p.error(f"{saved} not found: is {args.resume} a crawl-master run directory?")
        stored = json.loads(saved.read_text(encoding="utf-8"))
        explicit = vars(p.parse_args(argv))
        defaults = vars(p.parse_args([]))
        for key, value in stored.items():
            if explicit.get(key) == defaults.get(key):
                setattr(args, key, Path(value) if key in ("config", "run_dir") and value else value)
        args.run_dir = args.resume
    if args.run_dir is None:
        args.run_dir = new_run_dir()
    return args


def with_feed_password(uri: str) -> str:
    """The feed URI with the password from SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD when it names a
    user but no password; ValueError when a user other than `anonymous` has none at all."""
    parts = urlsplit(uri)
    if parts.username is None or parts.password is not None:
        return uri
    password = ENV("feed-password")
    if password:
        netloc = f"{parts.username}:{quote(password, safe='')}@{parts.netloc.partition('@')[2]}"
        return parts._replace(netloc=netloc).geturl()
    if parts.username != "anonymous":
        raise ValueError(
            f"the feed URI's user {parts.username!r} needs a password: set "
            "SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD (or put it in --feed-uri)"
        )
    return uri


def without_password(uri: str) -> str:
    """What the run directory keeps of the feed URI."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)).geturl()


def save_options(args: argparse.Namespace) -> None:
    """The run's options for `--resume`, without the feed password; the run directory is the
    user's alone (0700, files 0600)."""
    args.run_dir.mkdir(parents=True, exist_ok=True)
    args.run_dir.chmod(0o700)
    stored = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    stored.pop("resume")
    stored["feed_uri"] = without_password(args.feed_uri)
    write_json_atomic(args.run_dir / OPTIONS_NAME, stored, indent=2, mode=PRIVATE)


def report(summary: dict[str, Any], run_dir: Path) -> None:
    """The end of the run on stderr: URL counts, index coverage, where the failures are."""
    urls = summary["urls"]
    print(f"crawl-master: {urls['landed']:,} URLs landed, {urls['gone']:,} gone, "
          f"{urls['no_item']:,} without an item, {urls['failed']:,} failed, "
          f"{urls['pending']:,} unsettled ({summary['urls_retried']:,} needed a retry)",
          file=sys.stderr)  # fmt: skip
    if summary["urls_total"] > urls["landed"]:
        print(f"crawl-master: every URL that did not land: {run_dir / FAILED_NAME}",
              file=sys.stderr)  # fmt: skip
    index = summary["index"]
    for page in index["failed_pages"]:
        print(f"crawl-master: index page {page['url']} failed: {page['reason']}", file=sys.stderr)
    if not index["complete"]:
        print(f"crawl-master: the index is incomplete: at least "
              f"{index['missing_listings_at_least']:,} listings may be missing",
              file=sys.stderr)  # fmt: skip


def crawl_settings(args: argparse.Namespace, config: Path | None) -> dict[str, Any]:
    if not 0 <= args.first_batch_size <= args.batch_size or args.batch_size < 1:
        raise ValueError("want 1 <= --batch-size and 0 <= --first-batch-size <= --batch-size")
    extra = parse_pairs(args.setting)
    bar = args.progress == "bar" or (args.progress == "auto" and sys.stderr.isatty())
    return {
        "DISTRIBUTED_TARGET_HOSTS": args.targets,
        "DISTRIBUTED_SCRAPY_CFG": str(config) if config else "",
        "DISTRIBUTED_PROJECT": args.project,
        "DISTRIBUTED_BATCH_SIZE": args.batch_size,
        "DISTRIBUTED_FIRST_BATCH_SIZE": args.first_batch_size,
        "DISTRIBUTED_TARGET_FEED_URL": with_feed_password(args.feed_uri),
        "DISTRIBUTED_RUN_DIR": str(args.run_dir),
        "DISTRIBUTED_LISTEN": args.listen,
        "DISTRIBUTED_ADVERTISE_URL": args.advertise_url or "",
        "DISTRIBUTED_METRICS": args.metrics or "",
        "DISTRIBUTED_METRICS_LINGER": args.metrics_linger,
        "DISTRIBUTED_TLS_CERT": args.tls_cert or "",
        "DISTRIBUTED_TLS_KEY": args.tls_key or "",
        "DISTRIBUTED_MASTER_CA_FILE": args.master_ca_file or "",
        "DISTRIBUTED_WORKER_CONCURRENCY": args.concurrency,
        "DISTRIBUTED_WORKER_SETTINGS": {"LOG_LEVEL": "INFO", **extra},
        "DISTRIBUTED_NODE_SLOTS": args.slots,
        "DISTRIBUTED_PLACEMENT": args.placement,
        "DISTRIBUTED_MAX_ATTEMPTS": args.max_attempts,
        "DISTRIBUTED_NODE_TIMEOUT": args.node_timeout,
        "DISTRIBUTED_POLL_INTERVAL": args.poll_interval,
        "DISTRIBUTED_KEEP_WORKERS": args.keep_workers,
        "DISTRIBUTED_LEASE_TIMEOUT": args.lease_timeout,
        "DISTRIBUTED_PROGRESS": "off" if args.progress == "off" else ("bar" if bar else "log"),
        "SITE_URL": args.site,
        "SITE_INDEX_PAGES": args.index_pages,
        "SHARDS": args.shards,
        "CONCURRENT_REQUESTS": args.master_concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.master_concurrency,
        "LOG_LEVEL": "WARNING",
        "LOG_INSTALL_ROOT_HANDLER": False,  # structlog owns this process's logging
        **extra,
    }


class _Reactor(Protocol):
    """The two calls made on Twisted's global reactor (its module is typed, not the reactor)."""

    def callFromThread(self, callable: Callable[..., object], *args: object) -> None: ...
    def stop(self) -> None: ...


def _stop_on_signals(process: AsyncCrawlerProcess) -> None:
    """First SIGINT/SIGTERM: interrupt the run gracefully (partial batch flushed, summary
    written, resumable). Second: stop the reactor at once. Scrapy's own handlers would stop the
    reactor while the master is still waiting for its workers, before the summary is written."""
    from twisted.internet import reactor as installed

    reactor = cast(_Reactor, installed)  # AsyncCrawlerProcess installed the asyncio reactor
    seen = False

    def handler(signum: int, frame: object) -> None:
        nonlocal seen
        name = signal.Signals(signum).name
        if seen:
            print(f"crawl-master: {name} again, stopping now", file=sys.stderr)
            reactor.callFromThread(reactor.stop)
            return
        seen = True
        print(f"crawl-master: {name}, stopping (again to force)", file=sys.stderr)
        for crawler in process.crawlers:
            reactor.callFromThread(crawler.signals.send_catch_log, interrupt)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    args = load_options(argv)
    configure_logging(args.format, args.log_level)
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", defaults.__name__)
    config = args.config or find_config()
    try:
        targets = resolve_targets(args.targets, config)
        settings_for_crawl = crawl_settings(args, config)
        check_listen(args.listen, args.advertise_url)
        check_nodes_reach(args.listen, args.advertise_url, [t.url for t in targets])
    except (UnknownTargetError, TargetConfigError, ValueError) as exc:
        print(f"crawl-master: {exc}", file=sys.stderr)
        return 2
    os.umask(0o077)  # the ledger, the log and the summary are the user's alone
    save_options(args)
    copy_to_file(args.run_dir / MASTER_LOG)
    log.info(
        "run_started",
        run_dir=str(args.run_dir),
        nodes=[t.url for t in targets],
        site=args.site,
        batch_size=args.batch_size,
        resume=args.resume is not None,
    )

    if args.deploy:
        results = asyncio.run(deploy(targets, args.project))
        failed = {node: why for node, why in results.items() if not why.startswith("ok")}
        for node, why in failed.items():
            print(f"crawl-master: deploy to {node} failed: {why}", file=sys.stderr)
        if failed:
            return 1

    settings = get_project_settings()
    settings.setdict(settings_for_crawl, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    quiet_loggers(level=logging.getLogger().level)  # Scrapy's dictConfig set its loggers to DEBUG
    process.crawl(args.spider)
    _stop_on_signals(process)
    process.start(install_signal_handlers=False)

    summary_path = args.run_dir / SUMMARY_NAME
    if not summary_path.is_file():
        log.error("no_summary", run_dir=str(args.run_dir))
        return 1
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    report(summary, args.run_dir)
    if summary["ok"]:
        return 0
    if summary["fatal"]:
        print(f"crawl-master: run aborted: {summary['fatal']}", file=sys.stderr)
    for node, trouble in summary["troubled_nodes"].items():
        print(f"crawl-master: node {node}: {trouble}", file=sys.stderr)
    for batch, reason in summary["failed_batches"].items():
        print(f"crawl-master: batch {batch} failed: {reason}", file=sys.stderr)
    if summary["reason"] != "finished":
        print(f"crawl-master: interrupted ({summary['reason']}); continue with "
              f"crawl-master --resume {args.run_dir}", file=sys.stderr)  # fmt: skip
    return 1
