"""Crawl benchmark: the distributed crawl alone (no Spark, no monitor) against one plain crawl.

For each latency: (a) demo site + ftpsink + an N-node scrapyd cluster + `crawl-master`, timed from
crawl-master's start to its exit; (b) one plain `scrapy crawl easy` process with a local feed
(bench/e2e.py's `run_plain`). Prints wall time, pages/s, CPU seconds per page of each part and the
ratio. Run by hand:

    .venv/bin/python bench/crawl.py --total 50000 --latencies 0 0.25
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from crawlstack import master_args, start_crawl_stack
from e2e import run_plain

from scrapyfleet.demo.procs import Supervisor


def run_distributed(args: argparse.Namespace, latency: float, out: Path) -> dict[str, Any]:
    run_dir = out / f"crawl-latency-{latency}"
    sup = Supervisor(run_dir)
    try:
        stack = start_crawl_stack(sup, run_dir, args.total, latency, args.nodes, args.slots)
        started = time.monotonic()
        master = sup.start(
            "crawl-master",
            master_args(stack, run_dir, stack.site_url, args.total,
                        "--batch-size", str(args.batch_size), "--first-batch-size",
                        str(args.first_batch_size), "--concurrency", str(args.concurrency)),
        )  # fmt: skip
        code = master.wait(args.timeout)
        wall = time.monotonic() - started
    finally:
        sup.stop_all()
    summary = json.loads((run_dir / "master" / "summary.json").read_text())
    pages = summary["pages"]
    cpu = {
        "site": stack.site.cpu_seconds,
        "master": master.cpu_seconds,
        "workers": stack.cluster.cpu_seconds,
        "ftpsink": stack.sink.cpu_seconds,
    }
    return {
        "exit_code": code,
        "ok": code == 0 and summary["items"] >= args.total,
        "wall_seconds": round(wall, 2),
        "pages": pages,
        "pages_per_second": round(pages / wall, 1),
        "batches": summary["batches"],
        "cpu_ms_per_page": {k: round(1000 * v / pages, 3) for k, v in cpu.items() if v},
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--total", type=int, default=50_000, help="listings on the site")
    add("--latencies", type=float, nargs="+", default=[0.0, 0.25], help="site latencies (s)")
    add("--nodes", type=int, default=3, help="scrapyd nodes")
    add("--slots", type=int, default=2, help="slots per node")
    add("--batch-size", type=int, default=5000, help="URLs per batch")
    add("--first-batch-size", type=int, default=250, help="first batch (doubling)")
    add("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS of every worker")
    add("--plain-concurrency", type=int, default=128, help="CONCURRENT_REQUESTS of the plain crawl")
    add("--timeout", type=float, default=900, help="time limit of each crawl")
    add("--out", type=Path, default=Path(time.strftime("runs/bench-crawl-%H%M%S")), help="output")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for latency in args.latencies:
        distributed = run_distributed(args, latency, args.out.resolve())
        plain_args = argparse.Namespace(total=args.total, timeout=args.timeout)
        plain = run_plain(plain_args, latency, args.plain_concurrency, args.out.resolve())
        ratio = round(distributed["pages_per_second"] / plain["pages_per_second"], 2)
        results.append({"latency": latency, "distributed": distributed, "plain": plain,
                        "ratio": ratio})  # fmt: skip
        print(json.dumps(results[-1], indent=2), flush=True)
    meta = {"total": args.total, "cpus": psutil.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    (args.out / "crawl.json").write_text(json.dumps({**meta, "results": results}, indent=2))
    return 0 if all(r["distributed"]["ok"] and r["plain"]["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
