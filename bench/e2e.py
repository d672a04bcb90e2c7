"""End-to-end benchmark: the demo's distributed pipeline against one plain `scrapy crawl easy`.

(a) `demo` (site, ftpsink, scrapyd cluster, Spark, monitor, crawl-master) at each of
`--latencies` (default the demo's 0.25 s), once per worker lifecycle (`keep`: jobs lease batch
after batch; `once`: a Scrapy process per batch); (b) `demosite` + one `scrapy crawl easy` with a
local jsonlines feed at `--plain-latency` (default 0: the plain crawl at its fastest), once per
`--plain-concurrency`, the best of which is the baseline. Prints wall time, pages/s and the ratio
pipeline / best plain, CPU milliseconds per page and peak memory of every component, time to the
first shift table, landed-file to table-updated latency p50/p95. The pipeline's time runs from
launching `demo` to Spark's table that counts every listing (not the demo's stop after it); the
plain crawl's from its start to its exit. CPU seconds come from `wait4`
(each component with its reaped descendants); peak memory from sampling each component's process
tree with psutil. Run by hand:

    .venv/bin/python bench/e2e.py                                  # the throughput issue's compare
    .venv/bin/python bench/e2e.py --latencies 0 --lifecycles keep once   # old vs new workers
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from scrapyfleet.core.procs import free_port, script, url_ok
from scrapyfleet.demo.procs import Supervisor
from scrapyfleet.demo.state import iso_seconds

HOST = "127.0.0.1"
ROLES = {  # demo component -> role in the figures
    "demosite": "site",
    "crawl-master": "master",
    "cluster": "workers",
    "ftpsink": "ftpsink",
    "spark": "spark",
    "monitor": "monitor",
}


class PeakMemory(threading.Thread):
    """Samples the summed RSS of each named process tree; keeps each one's peak (MiB)."""

    def __init__(self, pids: Any, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pids = pids  # callable -> {name: pid}
        self.every = every
        self.peaks: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            for name, pid in self.pids().items():
                rss = tree_rss(pid)
                if rss:
                    self.peaks[name] = max(self.peaks.get(name, 0.0), rss / 2**20)


def tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def demo_pids(run_dir: Path) -> dict[str, int]:
    try:
        return dict(json.loads((run_dir / "pids.json").read_text())["components"])
    except (OSError, ValueError, KeyError):
        return {}


def run_pipeline(
    args: argparse.Namespace, latency: float, out: Path, lifecycle: str
) -> dict[str, Any]:
    """(a) The demo, start to exit, with workers of `lifecycle`."""
    name = f"demo-{lifecycle}-latency-{latency}"
    run_dir = out / name
    memory = PeakMemory(lambda: demo_pids(run_dir))
    memory.start()
    launched = time.time()
    once = ["--one-batch-per-job"] if lifecycle == "once" else []
    with (out / f"{name}.out").open("wb") as log:
        code = subprocess.call(
            [script("demo"), "--total", str(args.total), "--latency", str(latency),
             "--nodes", str(args.nodes), "--batch-size", str(args.batch_size),
             "--run-dir", str(run_dir), *once],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    command_seconds = time.time() - launched
    memory.done.set()
    memory.join()
    if not (run_dir / "report.json").is_file():
        raise SystemExit(f"demo exited {code} without a report; see {out}/{name}.out")
    report = json.loads((run_dir / "report.json").read_text())
    figures = report["figures"]
    history = json.loads((run_dir / "analytics" / "progress.json").read_text())
    wall = iso_seconds(history[-1]["updated_at"]) - launched  # launch to the table of every listing
    pages = figures["pages"]
    cpu = {ROLES[n]: p["cpu_seconds"] for n, p in report["processes"].items()}
    return {
        "exit_code": code,
        "ok": report["ok"],
        "wall_seconds": round(wall, 2),
        "command_seconds": round(command_seconds, 2),
        "pages": pages,
        "pages_per_second": round(pages / wall, 1),
        "crawl_pages_per_second": figures["crawl_pages_per_second"],
        "first_table_seconds": figures["first_table_seconds"],
        "landed_to_updated_p50": figures["landed_to_updated_p50"],
        "landed_to_updated_p95": figures["landed_to_updated_p95"],
        "cpu_ms_per_page": {k: round(1000 * v / pages, 3) for k, v in cpu.items() if v},
        "cpu_ms_per_page_total": round(1000 * sum(cpu.values()) / pages, 3),
        "peak_mib": {ROLES[k]: round(v, 1) for k, v in memory.peaks.items()},
    }


def run_plain(
    args: argparse.Namespace, latency: float, concurrency: int, out: Path
) -> dict[str, Any]:
    """(b) One `scrapy crawl easy` process with a local feed, on the same site."""
    run_dir = out / f"plain-latency-{latency}-concurrency-{concurrency}"
    run_dir.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(run_dir)
    port = free_port()
    site_url = f"http://{HOST}:{port}"
    site = sup.start("site", [script("demosite"), "--host", HOST, "--port", str(port),
                              "--total", str(args.total), "--latency", str(latency)])  # fmt: skip
    try:
        sup.wait_ready(site, lambda: url_ok(site_url + "/health"), 60)
        feed = run_dir / "items.jl"
        index_pages = math.ceil(args.total / 30)
        memory = PeakMemory(lambda: {c.name: c.pid for c in sup.children if c.poll() is None})
        memory.start()
        started = time.monotonic()
        crawl = sup.start(
            "crawler",
            [script("scrapy"), "crawl", "easy", "-O", f"{feed}:jsonlines",
             "-a", f"site={site_url}", "-a", f"index_pages={index_pages}",
             "-s", f"CONCURRENT_REQUESTS={concurrency}",
             "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
             "-s", "LOG_LEVEL=WARNING"],
            env={"SCRAPY_SETTINGS_MODULE": "scrapyfleet.crawler.settings"},
        )  # fmt: skip
        crawl.wait(args.timeout)
        wall = time.monotonic() - started
        memory.done.set()
        memory.join()
    finally:
        sup.stop_all()
    items = sum(1 for _ in feed.open("rb"))
    pages = items + index_pages
    cpu = {"site": site.cpu_seconds, "crawler": crawl.cpu_seconds}
    return {
        "latency": latency,
        "concurrency": concurrency,
        "exit_code": crawl.returncode,
        "ok": crawl.returncode == 0 and items == args.total,
        "items": items,
        "wall_seconds": round(wall, 2),
        "pages": pages,
        "pages_per_second": round(pages / wall, 1),
        "cpu_ms_per_page": {k: round(1000 * v / pages, 3) for k, v in cpu.items() if v},
        "peak_mib": {k: round(v, 1) for k, v in memory.peaks.items()},
    }


def cpu_model() -> str:
    """The processor's model name (Linux), for the figures' record."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "?")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--total", type=int, default=50_000, help="listings on the site")
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.25],
                        help="site latencies (s) to run the pipeline at")  # fmt: skip
    parser.add_argument("--nodes", type=int, default=3, help="scrapyd nodes of the demo")
    parser.add_argument("--batch-size", type=int, default=5000, help="URLs per batch")
    parser.add_argument(
        "--lifecycles",
        nargs="+",
        choices=["keep", "once"],
        default=["keep"],
        help="worker lifecycles to run the demo with, in the same session",
    )
    parser.add_argument("--plain-latency", type=float, default=0.0,
                        help="site latency (s) of the plain crawl")  # fmt: skip
    parser.add_argument("--plain-concurrency", type=int, nargs="+", default=[16, 32, 64, 128],
                        help="CONCURRENT_REQUESTS values to run the plain crawl with; "
                        "the fastest is the baseline")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=900, help="plain crawl's time limit")
    parser.add_argument("--out", type=Path, default=Path(time.strftime("runs/bench-e2e-%H%M%S")),
                        help="directory for both runs and e2e.json")  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    plains = [run_plain(args, args.plain_latency, c, out) for c in args.plain_concurrency]
    plain = max(plains, key=lambda p: float(p["pages_per_second"]))
    results = []
    for latency in args.latencies:
        for lifecycle in args.lifecycles:
            pipeline = run_pipeline(args, latency, out, lifecycle)
            ratio = round(pipeline["pages_per_second"] / plain["pages_per_second"], 2)
            results.append({"latency": latency, "lifecycle": lifecycle, "pipeline": pipeline,
                            "ratio": ratio})  # fmt: skip
            print(json.dumps(results[-1], indent=2), flush=True)
    meta = {"total": args.total, "cpus": psutil.cpu_count(), "cpu": cpu_model(),
            "date": time.strftime("%Y-%m-%d"), "load_average": psutil.getloadavg()}  # fmt: skip
    (out / "e2e.json").write_text(
        json.dumps({**meta, "plain": plains, "results": results}, indent=2)
    )
    for p in plains:
        cpu = " ".join(f"{k} {v}" for k, v in p["cpu_ms_per_page"].items())
        print(f"plain, latency {p['latency']}s, concurrency {p['concurrency']}: "
              f"{p['wall_seconds']} s {p['pages_per_second']} pages/s | CPU ms/page "
              f"{cpu}")  # fmt: skip
    for r in results:
        a = r["pipeline"]
        cpu = " ".join(f"{k} {v}" for k, v in a["cpu_ms_per_page"].items())
        print(f"pipeline, latency {r['latency']}s, workers {r['lifecycle']}: {a['wall_seconds']} "
              f"s {a['pages_per_second']} pages/s | ratio to the best plain "
              f"({plain['pages_per_second']} pages/s) {r['ratio']} | CPU ms/page {cpu} (total "
              f"{a['cpu_ms_per_page_total']}) | first table {a['first_table_seconds']} s | "
              f"landed->updated p50 {a['landed_to_updated_p50']} s p95 "
              f"{a['landed_to_updated_p95']} s | exact {a['ok']}")  # fmt: skip
    return 0 if all(r["pipeline"]["ok"] for r in results) and all(p["ok"] for p in plains) else 1


if __name__ == "__main__":
    sys.exit(main())
