"""Items crawled per second over a demo run, in 10-s buckets from the demo's start (its first log
line), for `bench/e2e.py --out` directories side by side: the ramp and the tail of each run.
Prints each run's buckets; `--out` also draws them (matplotlib). Run by hand:

    .venv/bin/python bench/rateplot.py runs/e2e-before runs/e2e-after --labels before after \
        --out docs/e2e-rate.svg
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from scrapyfleet.demo.state import iso_seconds

BUCKET = 10.0  # seconds


def demo_runs(out: Path) -> list[Path]:
    """The demo run directories of one e2e output directory, in its order."""
    results = json.loads((out / "e2e.json").read_text())["results"]
    return [out / f"demo-{r['lifecycle']}-latency-{r['latency']}" for r in results]


def buckets(run: Path) -> list[float]:
    """Items/s in each BUCKET from the demo's start to its last item."""
    with (run.parent / f"{run.name}.out").open() as log:
        start = iso_seconds(json.loads(log.readline())["timestamp"])
    counts: Counter[int] = Counter()
    for feed in (run / "items").glob("*.jl"):
        with feed.open() as f:
            for line in f:
                counts[int((iso_seconds(json.loads(line)["crawled_at"]) - start) // BUCKET)] += 1
    return [counts[b] / BUCKET for b in range(max(counts) + 1)] if counts else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outs", type=Path, nargs="+", help="bench/e2e.py --out directories")
    parser.add_argument("--labels", nargs="+", help="one label per directory (default: names)")
    parser.add_argument("--out", type=Path, help="draw the buckets into this file (svg, png)")
    args = parser.parse_args()
    labels = args.labels or [out.name for out in args.outs]
    if len(labels) != len(args.outs):
        parser.error("give one label per directory")
    series = []
    for label, out in zip(labels, args.outs, strict=True):
        for run in demo_runs(out):
            rates = buckets(run)
            series.append((f"{label} ({run.name})", rates))
            print(f"{label} {run.name}: items/s per {BUCKET:.0f} s: "
                  + ", ".join(f"{r:.0f}" for r in rates))  # fmt: skip
    if args.out is None:
        return 0
    from matplotlib.figure import Figure  # ~1 s to import: only to draw

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    axes = fig.subplots()
    for label, rates in series:
        axes.step([BUCKET * i for i in range(len(rates))], rates, where="post", label=label)
    axes.set_xlabel(f"seconds from the demo's start ({BUCKET:.0f}-s buckets)")
    axes.set_ylabel("items crawled per second")
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.set_title("The demo's crawl rate over time (bench/e2e.py runs)")
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
