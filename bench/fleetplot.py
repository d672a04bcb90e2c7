"""Plot bench/fleetsim.py runs against each other: the master's URLs/s and its RSS against the
URLs settled, one line per run (labelled by its node count), from each run's `fleetsim.json` and
`samples.csv`. Run by hand:

    .venv/bin/python bench/fleetplot.py runs/fs-10 runs/fs-100 runs/fs-300 --out fleetsim.svg
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleetsim import SAMPLES_FILE

RATE_WINDOW = 5.0  # seconds over which a point's URLs/s is measured


def series(run: Path) -> tuple[str, list[float], list[float], list[float]]:
    """(label, URLs settled, URLs/s, RSS MiB) of one run, a point per sample."""
    config = json.loads((run / "fleetsim.json").read_text())["config"]
    with (run / SAMPLES_FILE).open() as f:
        rows = [(float(r["seconds"]), float(r["urls_settled"]), float(r["rss_mib"]))
                for r in csv.DictReader(f)]  # fmt: skip
    urls, rates, rss = [], [], []
    start = 0
    for seconds, settled, mib in rows:
        while rows[start][0] < seconds - RATE_WINDOW:
            start += 1
        then, before, _ = rows[start]
        if seconds - then >= RATE_WINDOW / 2:
            urls.append(settled)
            rates.append((settled - before) / (seconds - then))
            rss.append(mib)
    return f"N={config['nodes']} x {config['slots']}", urls, rates, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="fleetsim --out directories")
    parser.add_argument("--out", type=Path, default=Path("fleetsim.svg"), help="the plot")
    args = parser.parse_args()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6.5), layout="constrained")
    rate_axes, rss_axes = fig.subplots(2, 1, sharex=True)
    for run in args.runs:
        label, urls, rates, rss = series(run)
        millions = [u / 1e6 for u in urls]
        rate_axes.plot(millions, rates, label=label, linewidth=1)
        rss_axes.plot(millions, rss, label=label, linewidth=1)
    rate_axes.set_ylabel(f"URLs/s ({RATE_WINDOW:.0f} s window)")
    rate_axes.set_ylim(bottom=0)
    rss_axes.set_ylabel("crawl-master RSS (MiB)")
    rss_axes.set_ylim(bottom=0)
    rss_axes.set_xlabel("URLs settled (millions)")
    rate_axes.legend()
    rate_axes.set_title("One crawl-master against simulated fleets (bench/fleetsim.py)")
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
