"""`demo`: the whole system of the book on this machine, in one command.

Starts the demo site, ftpsink, a scrapyd cluster, the Spark job, the monitor and crawl-master as
processes on loopback; shows one live view; ends when Spark's table counts every listing; prints
the top and bottom title words beside the planted effects; writes report.json and chart.png into
the run directory; stops everything it started.

Over 250 lines on purpose: the order in which six components start, hand each other addresses and
are stopped is the demo's one concern and reads top to bottom here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
from rich.console import Console

from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults, at_least, seconds
from scrapyfleet.demo.procs import ComponentError, Supervisor
from scrapyfleet.demo.report import (
    accuracy,
    figures,
    landed_files,
    landed_to_updated,
    planted_rows,
    print_final,
    write_chart,
    write_report,
)
from scrapyfleet.demo.stack import Plan, SparkStart, start_master, start_stack, wait_monitor
from scrapyfleet.demo.state import DemoState, extremes, progress_history
from scrapyfleet.demo.view import LiveView
from scrapyfleet.demosite.catalog import Catalog

log = structlog.get_logger("scrapyfleet.demo")

ENV = EnvDefaults("demo")
TICK = 0.5
MASTER_EXIT_TIMEOUT = 60.0
TRUTH_TOLERANCE = 1e-9
INTERRUPTED = 130


class Interrupted(Exception):
    """SIGINT or SIGTERM reached the demo."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demo",
        description="Run the whole pipeline locally (site, ftpsink, scrapyd cluster, Spark, "
        "monitor, crawl-master) until Spark counts every listing; report the price shift of "
        "title words.",
        epilog=ENV.epilog("total"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def option(name: str, default: str, kind: Callable[[str], object], text: str) -> None:
        parser.add_argument(f"--{name}", default=ENV(name, default), type=kind, help=text)

    option("total", "50000", at_least(1), "listings on the demo site")
    option("latency", "0.25", seconds, "seconds the site waits before each page")
    option("seed", "0", int, "seed of the site's listings")
    option("nodes", "3", at_least(1), "scrapyd nodes")
    option("slots", "2", at_least(1), "concurrent jobs per scrapyd node")
    option("batch-size", "5000", at_least(1), "detail-page URLs per batch")
    option("concurrency", "128", at_least(1), "concurrent requests of every worker job")
    parser.add_argument(
        "--one-batch-per-job",
        action="store_true",
        default=ENV.flag("one-batch-per-job"),
        help="crawl-master --no-keep-workers: a Scrapy process per batch (to compare)",
    )
    parser.add_argument(
        "--no-head-start",
        action="store_true",
        default=ENV("no-head-start", "").lower() in ("1", "true", "yes"),
        help="run every component at the same priority (default: the others yield the CPU "
        "to Spark until it is ready, then give way to its micro-batches; on a machine busy "
        "with other work they yield to that too)",
    )
    option("run-dir", "runs/demo-<timestamp>", Path, "run directory")
    option("timeout", "900", seconds, "give up if the table is not complete after this long")
    option(
        "spark-master",
        "local[*]",
        str,
        "the Spark job's master, e.g. spark://127.0.0.1:PORT from `boostwords-cluster up`",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        default=ENV.flag("keep-running"),
        help="after the final table, keep every component running until Ctrl-C",
    )
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def follow(
    plan: Plan,
    sup: Supervisor,
    state: DemoState,
    view: LiveView,
    timeout: float,
    spark: SparkStart,
) -> None:
    """Refresh the view until Spark's table counts every listing; ComponentError if one dies
    or Spark does not start."""
    master = next(c for c in sup.children if c.name == "crawl-master")
    others = [c for c in sup.children if c is not master]
    deadline = time.monotonic() + timeout
    while True:
        state.refresh()
        code = master.poll()
        view.update("crawling" if code is None else "counting")
        if state.complete:
            break
        if code not in (None, 0):
            sup.check(master)
        sup.check(*others)
        spark.check()
        if time.monotonic() > deadline:
            raise ComponentError(
                f"Spark counted {state.listings} of {plan.total} listings after {timeout:.0f} s"
            )
        time.sleep(TICK)
    if master.wait(MASTER_EXIT_TIMEOUT) != 0:
        sup.check(master)
        raise ComponentError(
            f"crawl-master still running {MASTER_EXIT_TIMEOUT:.0f} s after the end"
        )
    view.update("done")


def summarise(
    plan: Plan, state: DemoState, catalog: Catalog, started_wall: float, console: Console
) -> dict[str, Any]:
    """Compare with the ground truth, print the final table, write report.json and chart.png."""
    ended_wall = time.time()
    table = state.table or {"words": [], "listings": 0}
    words = table["words"]
    truth, planted = catalog.truth(), catalog.planted_effects()
    history = progress_history(plan.analytics_dir)
    summary_path = plan.master_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    latencies = landed_to_updated(landed_files(plan.items_dir), history)
    headline = figures(started_wall, ended_wall, summary, history, latencies)
    checked = accuracy(words, truth)
    error = checked["max_abs_error"]
    matches = not checked["missing_words"] and error is not None and error <= TRUTH_TOLERANCE
    top, bottom = extremes(words, 10)
    report = {
        "ok": table["listings"] == plan.total and matches,
        "options": {f.name: str(getattr(plan, f.name)) for f in dataclasses.fields(plan)},
        "listings": table["listings"],
        "total": plan.total,
        "bad_records": table.get("bad_records"),
        "figures": headline,
        "accuracy": checked,
        "matches_truth": matches,
        "planted": planted_rows(words, truth, planted),
        "top": top,
        "bottom": bottom,
        "crawl": {k: summary.get(k) for k in ("ok", "batches", "items", "pages", "nodes")},
    }
    print_final(console, words, truth, planted, headline)
    report["chart"] = str(
        write_chart(plan.run_dir, words, planted, history, state.crawled, started_wall)
    )
    write_report(plan.run_dir, report)
    if not matches:
        console.print(f"[red]recovered shifts differ from the ground truth: {checked}")
    return report


def run(plan: Plan, timeout: float, keep_running: bool, console: Console) -> int:
    """The whole demo; the exit code."""
    started_wall = time.time()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(plan.run_dir)
    catalog = Catalog(plan.total, plan.seed)
    state = DemoState(plan.total, started_wall, plan.analytics_dir)
    report: dict[str, Any] = {}
    code = 1
    try:
        with LiveView(state, catalog.planted_effects(), console) as view:
            view.update("starting")
            stack = start_stack(plan, sup)
            state.console_url = stack.console_url
            start_master(plan, sup, stack)
            wait_monitor(plan, sup, stack)
            follow(plan, sup, state, view, timeout, stack.spark)
        report = summarise(plan, state, catalog, started_wall, console)
        code = 0 if report["ok"] else 1
        if keep_running:
            console.print(f"every component keeps running (web console: {state.console_url}); "
                          "Ctrl-C stops them")  # fmt: skip
            while True:
                sup.check()
                time.sleep(TICK)
    except ComponentError as exc:
        log.error("component_failed", reason=str(exc).splitlines()[0])
        console.print(f"[red]demo failed:[/red] {exc}")
    except Interrupted as exc:
        log.warning("interrupted", signal=str(exc))
        if not report:
            code = INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        killed = sup.stop_all()
        left = sup.leftovers()
        if killed:
            log.warning("killed", components=killed)
        if left:
            log.error("left_running", components=left)
            code = code or 1
        if report:
            report["processes"] = sup.usage()
            write_report(plan.run_dir, report)
    log.info("demo_finished", code=code, run_dir=str(plan.run_dir))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    run_dir = args.run_dir
    if run_dir == Path("runs/demo-<timestamp>"):
        run_dir = Path(time.strftime("runs/demo-%Y%m%d-%H%M%S"))
    plan = Plan(
        run_dir=run_dir.resolve(),
        total=args.total,
        latency=args.latency,
        seed=args.seed,
        nodes=args.nodes,
        slots=args.slots,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        spark_master=args.spark_master,
        keep_workers=not args.one_batch_per_job,
        head_start=not args.no_head_start,
    )
    return run(plan, args.timeout, args.keep_running, Console())
