"""Scale benchmark: N listings (500,000 by default) through the whole pipeline at latency 0.

Runs `demo --total N --latency 0 --timeout T` and, while it runs, samples every `--every` seconds
(time since the demo's start):

- crawl-master's RSS (the process alone, not its children; its PID from `<run>/pids.json`);
- the Spark JVM (the `spark` component or its `java` descendant running SparkSubmit): heap in use
  (S0U+S1U+EU+OU) and committed (S0C+S1C+EC+OC) from one `jstat -gc PID MS` that streams for the
  whole run (a jstat per sample would start a JVM every second), and its RSS; RSS only, said
  once, when `jstat` is not on PATH;
- the ledger's size on disk (`<run>/master/ledger.sqlite` and its -wal file).

When the demo exits it reads `report.json` and prints and writes `scale.json`: exit code, ok and
exact (the final table equals the ground truth), listings, pages, wall time and pages/s end to
end, CPU ms/page per component, the final ledger size (bytes and bytes per listing URL) and, for
each memory series, the first-half peak, the second-half min/max/mean and the least-squares slope
over the second half (MiB/min), with a verdict. "flat" means |slope| < 2 MiB/min and, for RSS and
committed heap, a second-half max within 10% of the first-half peak; the heap in use saws with
each GC, so its slope is that of the minimum of each `--window` (30 s; shorter when the second
half holds fewer than 4 windows) over the second half, i.e. the heap that survives GC.
Also writes `samples.csv` (every sample) and `memory.svg` (the four memory curves, dashed line at
half time). Run by hand, on an otherwise idle machine:

    .venv/bin/python bench/scale.py                    # 500,000 listings
    .venv/bin/python bench/scale.py --total 20000 --out /tmp/scale-20k

Over 250 lines on purpose: a script run by hand, kept whole (three sampled series, their verdicts
and the plot).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from e2e import ROLES, demo_pids

from scrapyfleet.core.procs import script

MIB = 2**20
LEDGER_FILES = ("ledger.sqlite", "ledger.sqlite-wal")  # in <run>/master/
HEAP_USED = ("S0U", "S1U", "EU", "OU")  # jstat -gc columns, KiB
HEAP_COMMITTED = ("S0C", "S1C", "EC", "OC")
SERIES = {  # memory column -> legend label, colour
    "master_rss_mib": ("crawl-master RSS", "#1f77b4"),
    "heap_used_mib": ("Spark heap used", "#d62728"),
    "heap_committed_mib": ("Spark heap committed", "#ff7f0e"),
    "jvm_rss_mib": ("Spark JVM RSS", "#2ca02c"),
}
SLOPE_LIMIT = 2.0  # MiB/min: below it (in magnitude) a series is flat
PEAK_MARGIN = 1.10  # RSS/committed: second-half max within 10% of the first-half peak

Row = dict[str, float | None]
Points = list[tuple[float, float]]


class Jstat:
    """One `jstat -gc PID MS` for a JVM's whole life; the latest (used, committed) heap in MiB."""

    def __init__(self, pid: int, every: float) -> None:
        self.pid = pid
        self.latest: tuple[float, float] | None = None
        self.proc = subprocess.Popen(
            ["jstat", "-gc", str(pid), str(max(1, round(every * 1000)))],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        header: list[str] = []
        for line in self.proc.stdout:
            fields = line.split()
            if fields[:1] == ["S0C"]:
                header = fields
                continue
            row = dict(zip(header, fields, strict=False))
            try:
                used, committed = (sum(float(row[k]) for k in cols) / 1024
                                   for cols in (HEAP_USED, HEAP_COMMITTED))  # fmt: skip
            except (KeyError, ValueError):
                continue
            self.latest = (used, committed)

    def heap(self) -> tuple[float, float] | None:
        return self.latest if self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rss_mib(proc: psutil.Process | int | None) -> float | None:
    """The RSS of one process (not its children), by handle or PID; None if it is gone."""
    try:
        proc = psutil.Process(proc) if isinstance(proc, int) else proc
        rss = proc.memory_info().rss if proc else 0
    except psutil.Error:
        return None
    return rss / MIB if rss else None  # 0: a zombie, exited but not reaped yet


def spark_jvm(pid: int | None) -> psutil.Process | None:
    """The JVM running SparkSubmit: the `spark` component itself (spark-submit execs it) or a
    descendant; not the launcher JVM that spark-class runs first."""
    try:
        root = psutil.Process(pid) if pid else None
        procs = [root, *root.children(recursive=True)] if root else []
    except psutil.Error:
        return None
    for proc in procs:
        try:
            if proc.name() == "java" and "org.apache.spark.deploy.SparkSubmit" in proc.cmdline():
                return proc
        except psutil.Error:
            continue
    return None


def ledger_bytes(master_dir: Path) -> int | None:
    sizes = [(master_dir / name).stat().st_size for name in LEDGER_FILES
             if (master_dir / name).is_file()]  # fmt: skip
    return sum(sizes) if sizes else None


class Sampler(threading.Thread):
    """Samples the memory series and the ledger's size every `every` seconds into `rows`."""

    def __init__(self, run_dir: Path, every: float, with_jstat: bool) -> None:
        super().__init__(daemon=True)
        self.run_dir, self.every, self.with_jstat = run_dir, every, with_jstat
        self.rows: list[Row] = []
        self.done = threading.Event()
        self.jvm: psutil.Process | None = None
        self.jstat: Jstat | None = None

    def run(self) -> None:
        started = time.monotonic()
        tick = 1
        while not self.done.wait(max(0.0, started + tick * self.every - time.monotonic())):
            self.rows.append(self.sample(time.monotonic() - started))
            tick = math.floor((time.monotonic() - started) / self.every) + 1
        if self.jstat:
            self.jstat.stop()

    def sample(self, seconds: float) -> Row:
        pids = demo_pids(self.run_dir)
        if self.jvm is None or not self.jvm.is_running():
            self.jvm = spark_jvm(pids.get("spark"))
        if self.with_jstat and self.jvm and (self.jstat is None or self.jstat.pid != self.jvm.pid):
            if self.jstat:
                self.jstat.stop()
            self.jstat = Jstat(self.jvm.pid, self.every)  # once per JVM, even if jstat fails
        heap = self.jstat.heap() if self.jstat and self.jvm else None
        ledger = ledger_bytes(self.run_dir / "master")
        return {
            "seconds": round(seconds, 2),
            "master_rss_mib": rss_mib(pids.get("crawl-master")),
            "heap_used_mib": heap[0] if heap else None,
            "heap_committed_mib": heap[1] if heap else None,
            "jvm_rss_mib": rss_mib(self.jvm),
            "ledger_bytes": float(ledger) if ledger is not None else None,
        }


def slope_per_minute(points: Points) -> float | None:
    if len({t for t, _ in points}) < 2:
        return None
    slope, _ = statistics.linear_regression([t for t, _ in points], [v for _, v in points])
    return 60 * slope


def window_minima(points: Points, start: float, width: float) -> Points:
    """The lowest point of each `width`-second window from `start` on."""
    windows: dict[int, tuple[float, float]] = {}
    for t, v in points:
        k = int((t - start) // width)
        if k not in windows or v < windows[k][1]:
            windows[k] = (t, v)
    return [windows[k] for k in sorted(windows)]


def series_figures(rows: list[Row], key: str, half: float, window: float) -> dict[str, Any]:
    """First-half peak, second-half min/max/mean/slope (MiB/min) and the verdict of one series."""
    points = [(r["seconds"] or 0.0, v) for r in rows if (v := r[key]) is not None]
    first = [v for t, v in points if t <= half]
    second = [(t, v) for t, v in points if t > half]
    if not first or len(second) < 2:
        return {"verdict": "no data"}
    values = [v for _, v in second]
    figures: dict[str, Any] = {
        "first_half_peak": round(max(first), 1),
        "second_half_min": round(min(values), 1),
        "second_half_max": round(max(values), 1),
        "second_half_mean": round(statistics.fmean(values), 1),
        "second_half_slope_mib_per_min": _round(slope_per_minute(second)),
    }
    peak, high = figures["first_half_peak"], figures["second_half_max"]
    if key == "heap_used_mib":  # saw-tooth: the slope of what survives GC
        width = min(window, (second[-1][0] - half) / 4)
        slope = slope_per_minute(window_minima(second, half, width)) or 0.0
        figures |= {"window_seconds": round(width, 1), "window_min_slope_mib_per_min":
                    round(slope, 3)}  # fmt: skip
        below = True
        why = f"slope of the {width:.0f} s minima {slope:+.2f} MiB/min"
    else:
        slope = figures["second_half_slope_mib_per_min"] or 0.0
        below = high <= PEAK_MARGIN * peak
        why = (f"slope {slope:+.2f} MiB/min, max {high} {'<=' if below else '>'} {PEAK_MARGIN} x "
               f"first-half peak {peak}")  # fmt: skip
    flat = abs(slope) < SLOPE_LIMIT and below
    verdict = "shrinking" if slope <= -SLOPE_LIMIT else "flat" if flat else "growing"
    figures["verdict"] = f"{verdict}: second half {why} (flat: |slope| < {SLOPE_LIMIT})"
    return figures


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def write_svg(path: Path, rows: list[Row], half: float) -> None:
    """Memory curves against minutes since start, a gap where a value is missing, a dashed line
    at half time."""
    from matplotlib.figure import Figure  # ~1 s to import: only when the run is over

    fig = Figure(figsize=(9, 5), layout="tight")
    ax = fig.subplots()
    minutes = [(r["seconds"] or 0.0) / 60 for r in rows]
    for key, (label, colour) in SERIES.items():
        values = [math.nan if (v := r[key]) is None else v for r in rows]
        ax.plot(minutes, values, color=colour, linewidth=1.5, label=label)
    ax.axvline(half / 60, color="grey", linestyle="--", label="half")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("MiB")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    fig.savefig(path, format="svg")


def write_csv(path: Path, rows: list[Row]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["seconds", *SERIES, "ledger_bytes"])
        writer.writeheader()
        writer.writerows({k: "" if v is None else round(v, 2) for k, v in r.items()} for r in rows)


def summarise(
    args: argparse.Namespace, code: int, wall: float, rows: list[Row], report: dict[str, Any]
) -> dict[str, Any]:
    figures = report.get("figures", {})
    pages = figures.get("pages") or 0
    cpu = {ROLES[n]: p["cpu_seconds"] for n, p in report.get("processes", {}).items()}
    ledger = ledger_bytes(args.out / "demo" / "master")
    half = wall / 2
    return {
        "total": args.total,
        "exit_code": code,
        "ok": report.get("ok"),
        "exact": bool(report.get("ok") and report.get("matches_truth")),
        "listings": report.get("listings"),
        "pages": pages,
        "wall_seconds": round(wall, 2),
        "pages_per_second": round(pages / wall, 1) if pages else None,
        "first_table_seconds": figures.get("first_table_seconds"),
        "landed_to_updated_p50": figures.get("landed_to_updated_p50"),
        "landed_to_updated_p95": figures.get("landed_to_updated_p95"),
        "cpu_ms_per_page": {k: round(1000 * v / pages, 3) for k, v in cpu.items() if v and pages},
        "cpu_ms_per_page_total": round(1000 * sum(filter(None, cpu.values())) / max(pages, 1), 3),
        "ledger_bytes": ledger,
        "ledger_bytes_per_url": round(ledger / args.total, 1) if ledger else None,
        "ledger_peak_bytes": int(max((r["ledger_bytes"] or 0 for r in rows), default=0)),
        "half_seconds": round(half, 1),
        "memory_mib": {k: series_figures(rows, k, half, args.window) for k in SERIES},
        "samples": len(rows),
        "cpus": psutil.cpu_count(),
        "load_average": psutil.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--total", type=int, default=500_000, help="listings on the site")
    parser.add_argument("--timeout", type=float, default=3600, help="the demo's --timeout (s)")
    parser.add_argument("--every", type=float, default=1.0, help="sample interval (s)")
    parser.add_argument("--window", type=float, default=30.0,
                        help="window (s) of the heap-after-GC minima")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(time.strftime("runs/bench-scale-%H%M%S")),
                        help="directory for the demo's run and the results")  # fmt: skip
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    run_dir = args.out / "demo"
    with_jstat = shutil.which("jstat") is not None
    if not with_jstat:
        print("jstat is not on PATH: recording the Spark JVM's RSS only, not its heap", flush=True)
    sampler = Sampler(run_dir, args.every, with_jstat)
    print(f"demo --total {args.total} --latency 0 in {run_dir} (output in {args.out}/demo.out)")
    with (args.out / "demo.out").open("wb") as log:
        sampler.start()
        started = time.monotonic()
        demo = subprocess.Popen(
            [script("demo"), "--total", str(args.total), "--latency", "0", "--timeout",
             str(args.timeout), "--run-dir", str(run_dir)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            code = demo.wait()
        except KeyboardInterrupt:  # the demo got the SIGINT too: let it stop its components
            print("interrupted: waiting for the demo to stop its components", flush=True)
            code = demo.wait()
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
    report_path = run_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    if not report:
        print(f"demo exited {code} without a report; see {args.out}/demo.out")
    result = summarise(args, code, wall, sampler.rows, report)
    write_csv(args.out / "samples.csv", sampler.rows)
    write_svg(args.out / "memory.svg", sampler.rows, wall / 2)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"exit {code}, ok {result['ok']}, exact {result['exact']}: {result['listings']} listings,"
          f" {result['pages']} pages in {result['wall_seconds']} s, {result['pages_per_second']} "
          f"pages/s; ledger {result['ledger_bytes']} bytes ({result['ledger_bytes_per_url']} per "
          "URL)")  # fmt: skip
    for key, figures in result["memory_mib"].items():
        print(f"{key}: {figures['verdict']}")
    print(f"wrote {args.out}/scale.json, samples.csv, memory.svg")
    return 0 if code == 0 and result["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
