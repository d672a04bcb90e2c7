"""Site health and the domain budget, in figures: the demo site behind a fault-injecting,
measuring proxy (packages/crawler/tests/siteproxy.py), ftpsink, an N-node scrapyd cluster and
crawl-master with its default options.

Runs (1) a plain crawl and (2) one with `--domain-concurrency` (pages/s, and the most requests
the site had in flight), then (3) one with a whole-site outage mid-crawl: the requests the site
saw during it, and the time from the site's return to full speed (the first second whose request
rate reaches 90% of the median rate before the outage). Prints JSON figures. Run by hand:

    .venv/bin/python bench/sites.py --total 6000 --outage 30 --budget 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "packages" / "crawler" / "tests"))
from crawlstack import master_args, start_crawl_stack
from siteproxy import Fault, SiteProxy

from scrapyfleet.demo.procs import Supervisor


def crawl(args: argparse.Namespace, name: str, fault: Fault | None, *extra: str) -> dict[str, Any]:
    run_dir = args.out.resolve() / name
    sup = Supervisor(run_dir)
    proxy: SiteProxy | None = None
    try:
        stack = start_crawl_stack(sup, run_dir, args.total, args.latency, args.nodes, args.slots)
        proxy = SiteProxy(stack.site_url, fault)
        proxy.start()
        started = time.monotonic()
        master = sup.start(
            "crawl-master", master_args(stack, run_dir, proxy.url, args.total, *extra)
        )
        code = master.wait(args.timeout)
        wall = time.monotonic() - started
    finally:
        if proxy is not None:
            proxy.stop()
        sup.stop_all()
    assert proxy is not None  # the stack started, or the exception went on from `finally`
    summary = json.loads((run_dir / "master" / "summary.json").read_text())
    figures: dict[str, Any] = {
        "run": name,
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "pages_per_second": round(summary["pages"] / wall, 1),
        "max_inflight_at_site": proxy.max_inflight,
        "site_events": [e["event"] for e in summary["sites"]["events"]],
    }
    if fault is not None and fault.began is not None:
        figures["requests_during_outage"] = proxy.during()
        figures["seconds_to_full_speed"] = back_to_speed(proxy, fault)
    return figures


def back_to_speed(proxy: SiteProxy, fault: Fault) -> float | None:
    """Seconds from the site's return to the first 1-s bin at 90% of the rate before it."""
    assert fault.began is not None
    start, back = proxy.arrivals[0], fault.began + fault.seconds
    bins: dict[int, int] = {}
    for t in proxy.arrivals:
        bins[int(t - start)] = bins.get(int(t - start), 0) + 1
    before = [n for b, n in bins.items() if b < int(fault.began - start)]
    if not before:
        return None
    target = 0.9 * statistics.median(before)
    for b in sorted(bins):
        if start + b >= back and bins[b] >= target:
            return round(start + b - back, 1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--total", type=int, default=6000, help="listings on the site")
    add("--latency", type=float, default=0.05, help="site latency per listing (s)")
    add("--nodes", type=int, default=3, help="scrapyd nodes")
    add("--slots", type=int, default=2, help="slots per node")
    add("--budget", type=int, default=8, help="--domain-concurrency of the budgeted run")
    add("--outage", type=float, default=30.0, help="seconds the whole site is down")
    add("--timeout", type=float, default=900, help="time limit of each crawl")
    add("--out", type=Path, default=Path(time.strftime("runs/bench-sites-%H%M%S")), help="output")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [
        crawl(args, "plain", None),
        crawl(args, "budget", None, "--domain-concurrency", str(args.budget)),
        crawl(args, "outage", Fault(after=args.total // 3, mode="503", seconds=args.outage)),
    ]
    for result in results:
        print(json.dumps(result), flush=True)
    (args.out / "sites.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
