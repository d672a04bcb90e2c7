"""`crawl-master`: run a whole distributed crawl over scrapyd nodes and return when it is complete.

It runs the Scrapy project it stands in (`project.py`), checks everything it can before the
first page (`preflight.py`, exit 2), uploads the project with `--deploy`, then runs the spider
in this process (Scrapy on the asyncio reactor) with DistributedMiddleware in master mode;
batches go to the nodes, workers fetch them from this process and report back. Exit 0 when every
URL landed; 1 otherwise (failures are listed), or when the target diverted nothing.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import structlog
from scrapy import Spider
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader

from scrapyfleet.core.exposed import warn_inline_passwords
from scrapyfleet.core.logs import configure_logging, copy_to_file, quiet_loggers
from scrapyfleet.core.options import env_name
from scrapyfleet.core.targets import (
    Target,
    TargetConfigError,
    UnknownTargetError,
    find_config,
    resolve_targets,
)
from scrapyfleet.crawler.master.collector import interrupt
from scrapyfleet.crawler.master.deploy import deploy
from scrapyfleet.crawler.master.fleetconfig import distributed_settings, new_run_dir
from scrapyfleet.crawler.master.landing import receipt_key
from scrapyfleet.crawler.master.options import (
    given_settings,
    load_options,
    save_options,
    with_feed_password,
)
from scrapyfleet.crawler.master.preflight import (
    Refusal,
    check_feed,
    check_nodes,
    check_spider,
    effective_settings,
)
from scrapyfleet.crawler.master.project import Project, load_project, project_name, spider_name
from scrapyfleet.crawler.master.reach import check_listen, check_nodes_reach
from scrapyfleet.crawler.master.screen import log_on_a_terminal, screen, summary_table
from scrapyfleet.crawler.master.summary import FAILED_NAME, SUMMARY_NAME

log = structlog.get_logger("scrapyfleet.crawler.master")

MASTER_LOG = "master.log"  # every event of the run, JSON lines
ALL_TARGETS = ["*"]  # without DISTRIBUTED_TARGET_HOSTS: every deploy target of scrapy.cfg
REFUSED = (Refusal, UnknownTargetError, TargetConfigError, ValueError, OSError)


def report(summary: dict[str, Any], run_dir: Path) -> None:
    """The end of the run on stderr (a table on a TTY): URL counts, index coverage, where the
    failures are."""
    urls = summary["urls"]
    if sys.stderr.isatty():
        screen().print(summary_table(summary))
    else:
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
    if not index["crawled"]:
        print("crawl-master: the index crawl did not run to its end: listings may be missing",
              file=sys.stderr)  # fmt: skip
    elif not index["complete"]:
        print(f"crawl-master: the index is incomplete: at least "
              f"{index['missing_listings_at_least']:,} listings may be missing",
              file=sys.stderr)  # fmt: skip


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


@dataclass(frozen=True, slots=True)
class Plan:
    """What the checks settled: the spider, its settings, nodes and scrapyd project."""

    spidercls: type[Spider]
    settings: Settings
    targets: list[Target]
    project: str
    run_dir: Path


def plan_run(args: argparse.Namespace, project: Project) -> Plan:
    """Every check that needs no node; Refusal (or another REFUSED error) says why not."""
    settings = project.settings
    loader = get_spider_loader(settings)
    spidercls = loader.load(spider_name(args.spider, loader.list(), project))
    effective = distributed_settings(effective_settings(spidercls, settings))
    check_spider(spidercls, effective)
    first, size = (
        effective.getint("DISTRIBUTED_FIRST_BATCH_SIZE"),
        effective.getint("DISTRIBUTED_BATCH_SIZE"),
    )
    if not 0 <= first <= size or size < 1:
        raise Refusal("want 1 <= --batch-size and 0 <= --first-batch-size <= --batch-size")
    config = args.config or find_config()
    hosts = effective.getlist("DISTRIBUTED_TARGET_HOSTS") or ALL_TARGETS
    targets = resolve_targets(hosts, config)
    if not targets:
        raise Refusal(
            f"no scrapyd node: no deploy target in {config or 'any scrapy.cfg'}; give --targets"
        )
    listen, advertise = (
        effective.get("DISTRIBUTED_LISTEN"),
        effective.get("DISTRIBUTED_ADVERTISE_URL"),
    )
    check_listen(listen, advertise or None)
    check_nodes_reach(listen, advertise or None, [t.url for t in targets])
    receipt_key(effective.get("DISTRIBUTED_RECEIPT_KEY_FILE"))  # ValueError: refused
    feed = with_feed_password(effective.get("DISTRIBUTED_TARGET_FEED_URL"))
    check_feed(feed, effective.get("FEED_STORAGE_FTPS_CA_FILE"))
    run_dir = Path(effective.get("DISTRIBUTED_RUN_DIR") or new_run_dir())
    bar = args.progress == "bar" or (args.progress == "auto" and sys.stderr.isatty())
    settings.setdict(
        {
            "DISTRIBUTED_TARGET_HOSTS": hosts,
            "DISTRIBUTED_SCRAPY_CFG": str(config) if config else "",
            "DISTRIBUTED_PROJECT": project_name(effective, config),
            "DISTRIBUTED_TARGET_FEED_URL": feed,
            "DISTRIBUTED_RUN_DIR": str(run_dir),
            "DISTRIBUTED_PROGRESS": "off" if args.progress == "off" else ("bar" if bar else "log"),
        },
        priority="cmdline",
    )
    return Plan(spidercls, settings, targets, project_name(effective, config), run_dir)


def main(argv: list[str] | None = None) -> int:
    args = load_options(argv)
    # On a TTY: through the bar's console, keeping what a person reads (screen.py).
    (log_on_a_terminal if sys.stderr.isatty() else configure_logging)(
        args.log_format, args.log_level
    )
    instead = {"feed-uri": env_name("crawl-master", "feed-password")}
    warn_inline_passwords(sys.argv[1:] if argv is None else argv, "crawl-master",
                          ("feed-uri", "targets"), instead)  # fmt: skip
    project = load_project()
    try:
        project.settings.setdict(given_settings(args), priority="cmdline")
        # structlog owns this process's logging; Scrapy's own loggers only warn.
        project.settings.setdict({"LOG_LEVEL": "WARNING", "LOG_INSTALL_ROOT_HANDLER": False},
                                 priority="cmdline")  # fmt: skip
        plan = plan_run(args, project)
    except REFUSED as exc:
        print(f"crawl-master: {exc}", file=sys.stderr)
        return 2
    os.umask(0o077)  # the ledger, the log and the summary are the user's alone
    save_options(args, plan.run_dir)
    copy_to_file(plan.run_dir / MASTER_LOG)
    log.info("run_started", run_dir=str(plan.run_dir), nodes=[t.url for t in plan.targets],
             spider=plan.spidercls.name, project=plan.project, settings=project.module,
             resume=args.resume is not None)  # fmt: skip
    process = AsyncCrawlerProcess(plan.settings)  # Scrapy's start-up lines go to master.log too
    quiet_loggers(level=logging.getLogger().level)  # Scrapy's dictConfig set them to DEBUG
    # The reactor's own loop (AsyncCrawlerProcess installed it; asyncio.run would close it).
    loop = asyncio.get_event_loop()
    if args.deploy:
        results = loop.run_until_complete(deploy(plan.targets, plan.project, project))
        failed = {node: why for node, why in results.items() if not why.startswith("ok")}
        for node, why in failed.items():
            print(f"crawl-master: deploy to {node} failed: {why}", file=sys.stderr)
        if failed:
            return 1
    try:
        down = loop.run_until_complete(check_nodes(plan.targets, plan.project, plan.spidercls.name))
    except Refusal as exc:
        print(f"crawl-master: {exc}", file=sys.stderr)
        return 2
    for node in down:
        log.warning("node_unreachable", node=node)
    process.crawl(plan.spidercls)
    _stop_on_signals(process)
    process.start(install_signal_handlers=False)
    return outcome(plan.run_dir)


def outcome(run_dir: Path) -> int:
    """The exit code from the run's summary; what went wrong on stderr."""
    summary_path = run_dir / SUMMARY_NAME
    if not summary_path.is_file():
        log.error("no_summary", run_dir=str(run_dir))
        return 1
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    report(summary, run_dir)
    if summary["ok"]:
        return 0
    if summary["nothing_diverted"]:
        print("crawl-master: nothing diverted: the target matched no request the spider made, "
              "so nothing was distributed", file=sys.stderr)  # fmt: skip
    if summary["fatal"]:
        print(f"crawl-master: run aborted: {summary['fatal']}", file=sys.stderr)
    for node, trouble in summary["troubled_nodes"].items():
        print(f"crawl-master: node {node}: {trouble}", file=sys.stderr)
    for batch, reason in summary["failed_batches"].items():
        print(f"crawl-master: batch {batch} failed: {reason}", file=sys.stderr)
    if summary["reason"] != "finished":
        print(f"crawl-master: interrupted ({summary['reason']}); continue with "
              f"crawl-master --resume {run_dir}", file=sys.stderr)  # fmt: skip
    return 1
