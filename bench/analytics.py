"""Benchmark of the boostwords Spark job (run by hand: `.venv/bin/python bench/analytics.py`).

Default mode: runs the real `boostwords` (spark-submit, local[*], 1 s trigger) on a temporary
directory, and, in the same run and on the same files, the job as it was at `--baseline-rev`
(its package extracted from git, run with the same spark-submit), and prints for each: start-up
to the first table, CPU time of the job's process tree (JVM + Python driver + their reaped
children) per listing over the steady phase (one 2,000-line file every 2 s), micro-batch
p50/p95, file-landed to table-written p50/p95, 50,000 listings landed at once, peak RSS; then
the current/baseline ratios. Target: Spark <= 0.3 ms CPU per listing.

`--state`: 500,000 distinct urls (`Catalog(total=500_000)`) in files of 10,000 lines, landed one
after another; prints the state store's size (RocksDB files and memory, from the query's
progress) and the micro-batch times of the first and second half (flat or not).

Over 250 lines on purpose: a script run by hand, kept whole (its two modes share one harness).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from scrapyfleet.core.procs import stop_group
from scrapyfleet.core.waits import wait_until
from scrapyfleet.demosite.catalog import Catalog

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
PACKAGE = "packages/analytics/src/scrapyfleet/analytics"
FILE_LINES = 2000
BULK = 50_000
BASELINE_REV = "292fe79"  # the two-branch, complete-mode plan (docs/performance.md, "Analytics")


class Job:
    """A running job process (its own process group) and what it has written."""

    def __init__(self, root: Path, command: list[str], env: dict[str, str]) -> None:
        self.root, self.command, self.env = root, command, env
        self.items, self.output = root / "items", root / "out"
        self.items.mkdir()
        self.log = root / "job.log"
        self.peak_rss = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.proc = subprocess.Popen(
            self.command,
            stdout=self.log.open("wb"),  # the Python driver's JSON logs come out on stdout
            stderr=(self.root / "spark.log").open("wb"),
            env=self.env,
            start_new_session=True,
        )
        return time.monotonic()

    def _tree(self) -> list[psutil.Process]:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def sample_memory(self) -> None:
        try:
            rss = sum(p.memory_info().rss for p in self._tree())
        except psutil.NoSuchProcess:
            return
        self.peak_rss = max(self.peak_rss, rss)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the process tree, with its reaped children (forks)."""
        times = [p.cpu_times() for p in self._tree()]
        return sum(t.user + t.system + t.children_user + t.children_system for t in times)

    def table(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.output / "shifts.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_listings(self, listings: int, timeout: float) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            self.sample_memory()
            document = self.table()
            if document is not None and document["listings"] >= listings:
                return document
            assert self.proc is not None and self.proc.poll() is None, f"job exited: {self.log}"
            return None

        document = wait_until(reached, timeout, interval=0.02)
        if document is None:
            raise TimeoutError(f"no table with {listings} listings after {timeout}s")
        return document

    def events(self, name: str) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in events if e.get("event") == name and e.get("input_rows")]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc.pid, grace=60)


def job_args(root: Path, trigger: str) -> list[str]:
    return [
        str(root / "items"),
        "--checkpoint",
        str(root / "ckpt"),
        "--output",
        str(root / "out"),
        "--trigger",
        trigger,
        "--log-format",
        "json",
    ]


def current(root: Path, trigger: str, *extra: str) -> Job:
    return Job(
        root, [str(VENV_BIN / "boostwords"), *job_args(root, trigger), *extra], {**os.environ}
    )


def baseline(root: Path, trigger: str, rev: str) -> Job:
    """The job at git revision `rev`: its package extracted and put first on the path."""
    tree = root / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, PACKAGE], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    src = tree / "packages/analytics/src"
    package = src / "scrapyfleet/analytics"
    command = [
        str(VENV_BIN / "spark-submit"),
        "--master",
        "local[*]",
        "--driver-memory",
        "1g",
        "--driver-java-options",
        f"-Dlog4j2.configurationFile={(package / 'log4j2.properties').as_uri()}",
        str(package / "job.py"),
        *job_args(root, trigger),
    ]
    env = os.environ | {
        "PYTHONPATH": str(src),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    return Job(root, command, env)


def land(items: Path, name: str, lines: list[str]) -> float:
    """Write a hidden staging file, rename it into place; return the wall-clock landing time."""
    (items / f".{name}").write_text("\n".join(lines) + "\n")
    os.replace(items / f".{name}", items / name)
    return time.time()


def percentile(values: Sequence[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def measure(job: Job, files: list[list[str]], steady_files: int, interval: float) -> dict[str, Any]:
    """Start-up, steady files one by one, then the bulk files at once."""
    try:
        land(job.items, "f000_easy_t.jl", files[0])
        started = job.start()
        job.wait_listings(FILE_LINES, 600)
        startup = time.monotonic() - started
        latencies = []
        cpu_before = job.cpu_seconds()
        for k in range(1, steady_files + 1):
            landed = land(job.items, f"f{k:03d}_easy_t.jl", files[k])
            document = job.wait_listings(FILE_LINES * (k + 1), 120)
            written = datetime.fromisoformat(document["updated_at"]).timestamp()
            latencies.append(written - landed)
            time.sleep(max(0.0, landed + interval - time.time()))
        steady_cpu = job.cpu_seconds() - cpu_before
        steady = [e["millis"] / 1000 for e in job.events("batch_done")[1:]]
        before = FILE_LINES * (steady_files + 1)
        t0 = time.monotonic()
        cpu_before = job.cpu_seconds()
        for k, chunk in enumerate(files[steady_files + 1 :]):
            land(job.items, f"g{k:03d}_easy_t.jl", chunk)
        job.wait_listings(before + BULK, 600)
        bulk, bulk_cpu = time.monotonic() - t0, job.cpu_seconds() - cpu_before
    finally:
        job.stop()
    return {
        "startup_s": startup,
        "cpu_ms_per_listing": steady_cpu / (steady_files * FILE_LINES) * 1000,
        "batch_p50_s": statistics.median(steady),
        "batch_p95_s": percentile(steady, 95),
        "landed_p50_s": statistics.median(latencies),
        "landed_p95_s": percentile(latencies, 95),
        "bulk_s": bulk,
        "bulk_cpu_ms_per_listing": bulk_cpu / BULK * 1000,
        "peak_rss_mib": job.peak_rss / 2**20,
    }


ROWS = (
    ("start-up to first table (s)", "startup_s", "{:.1f}"),
    ("Spark CPU per listing, steady (ms)", "cpu_ms_per_listing", "{:.3f}"),
    ("micro-batch p50 (s)", "batch_p50_s", "{:.2f}"),
    ("micro-batch p95 (s)", "batch_p95_s", "{:.2f}"),
    ("landed -> table written p50 (s)", "landed_p50_s", "{:.2f}"),
    ("landed -> table written p95 (s)", "landed_p95_s", "{:.2f}"),
    (f"{BULK:,} listings landed at once -> table (s)", "bulk_s", "{:.1f}"),
    ("Spark CPU per listing, bulk (ms)", "bulk_cpu_ms_per_listing", "{:.3f}"),
    ("peak RSS, JVM + Python (MiB)", "peak_rss_mib", "{:,.0f}"),
)


def report(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    print(f"{'':<44}" + "".join(f"{name:>14}" for name in names), end="")
    print(f"{'ratio':>10}" if len(names) == 2 else "")
    for label, key, fmt in ROWS:
        cells = "".join(f"{fmt.format(results[name][key]):>14}" for name in names)
        ratio = ""
        if len(names) == 2 and results[names[0]][key]:
            ratio = f"{results[names[1]][key] / results[names[0]][key]:>10.2f}"
        print(f"{label:<44}{cells}{ratio}")


def state_bench(trigger: str, total: int, file_lines: int, timeout: float) -> None:
    catalog = Catalog(total=total, seed=2)
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        job = current(Path(tmp), trigger)
        job.start()
        deadline = time.monotonic() + timeout
        landed = 0
        try:
            for start in range(0, total, file_lines):
                if time.monotonic() > deadline:
                    break
                lines = [
                    json.dumps(catalog.item(i, "http://127.0.0.1:9312"))
                    for i in range(start, min(total, start + file_lines))
                ]
                land(job.items, f"s{start // file_lines:04d}_easy_t.jl", lines)
                landed += len(lines)
                job.wait_listings(landed, max(1.0, deadline - time.monotonic()))
        finally:
            job.stop()
        batches = job.events("batch_done")
    seconds = [e["millis"] / 1000 for e in batches]
    half = len(seconds) // 2
    last = batches[-1]
    print(f"urls landed: {landed:,} in {len(batches)} micro-batches of {file_lines:,} lines")
    print(
        f"state: RocksDB files {last['state_file_bytes'] / 2**20:,.1f} MiB, memory "
        f"{last['state_memory_bytes'] / 2**20:,.1f} MiB "
        f"({last['state_file_bytes'] / max(1, landed):.0f} file bytes per url)"
    )
    for name, part in (("first half", seconds[:half]), ("second half", seconds[half:])):
        print(
            f"micro-batch {name}: p50 {statistics.median(part):.2f} s, "
            f"p95 {percentile(part, 95):.2f} s, max {max(part):.2f} s"
        )
    print(f"peak RSS of the job: {job.peak_rss / 2**20:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steady-files", type=int, default=15, help="2,000-line files, one by one")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between those files")
    parser.add_argument("--trigger", default="1s", help="the job's trigger")
    parser.add_argument(
        "--baseline-rev", default=BASELINE_REV, help="git revision of the baseline ('' for none)"
    )
    parser.add_argument("--state", action="store_true", help="the 500,000-url state benchmark")
    parser.add_argument("--state-total", type=int, default=500_000, help="urls for --state")
    parser.add_argument("--state-file-lines", type=int, default=10_000, help="lines per file")
    parser.add_argument("--state-timeout", type=float, default=600, help="give up after (s)")
    args = parser.parse_args()
    if args.state:
        state_bench(args.trigger, args.state_total, args.state_file_lines, args.state_timeout)
        return

    total = FILE_LINES * (1 + args.steady_files) + BULK
    catalog = Catalog(total=total, seed=1)
    lines = [json.dumps(catalog.item(i, "http://127.0.0.1:9312")) for i in range(total)]
    files = [lines[i : i + FILE_LINES] for i in range(0, total, FILE_LINES)]
    results: dict[str, dict[str, Any]] = {}
    runs = [("baseline", args.baseline_rev)] if args.baseline_rev else []
    for name, rev in [*runs, ("current", "")]:
        with tempfile.TemporaryDirectory(prefix=f"bench-analytics-{name}-") as tmp:
            root = Path(tmp)
            job = baseline(root, args.trigger, rev) if rev else current(root, args.trigger)
            results[name] = measure(job, files, args.steady_files, args.interval)
        print(f"{name} done: {json.dumps(results[name])}", flush=True)
    report(results)
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
