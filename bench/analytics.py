"""Benchmark of the boostwords Spark job (run by hand: `.venv/bin/python bench/analytics.py`).

Runs the real `boostwords` (spark-submit, local[*], 1 s trigger) on a temporary directory and
prints: start-up time to the first table, steady micro-batch time and file-landed to
table-written latency (p50/p95) for 2,000-line files, total time for 50,000 listings landed as
25 files at once, and the peak memory (RSS) of the job's process tree. Targets on a 2-core
machine: micro-batch <= 1.5 s, landed-to-written p95 <= 3 s.
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
from scrapyfleet.demosite.catalog import Catalog

BOOSTWORDS = str(Path(sys.executable).parent / "boostwords")
FILE_LINES = 2000


class Job:
    """A running boostwords process and what it has written."""

    def __init__(self, root: Path, trigger: str) -> None:
        self.items, self.output = root / "items", root / "out"
        self.items.mkdir()
        self.log = root / "job.log"
        self.peak_rss = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.root, self.trigger = root, trigger

    def start(self) -> float:
        self.proc = subprocess.Popen(
            [
                BOOSTWORDS,
                str(self.items),
                "--checkpoint",
                str(self.root / "ckpt"),
                "--output",
                str(self.output),
                "--trigger",
                self.trigger,
            ],
            stdout=self.log.open("wb"),  # the Python driver's JSON logs come out on stdout
            stderr=(self.root / "spark.log").open("wb"),
            start_new_session=True,
        )
        return time.monotonic()

    def sample_memory(self) -> None:
        assert self.proc is not None
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs)
        except psutil.NoSuchProcess:
            return
        self.peak_rss = max(self.peak_rss, rss)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the job's process tree."""
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        times = [p.cpu_times() for p in [root, *root.children(recursive=True)]]
        return sum(t.user + t.system for t in times)

    def table(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.output / "shifts.json").read_text())
        except FileNotFoundError:
            return None

    def wait_listings(self, listings: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sample_memory()
            document = self.table()
            if document is not None and document["listings"] >= listings:
                return document
            time.sleep(0.02)
        raise TimeoutError(f"no table with {listings} listings after {timeout}s")

    def batch_millis(self) -> list[int]:
        events = [
            json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")
        ]
        return [e["millis"] for e in events if e.get("event") == "batch_done" and e["input_rows"]]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc.pid, grace=60)


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--steady-files", type=int, default=15, help="2,000-line files, one by one")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between those files")
    parser.add_argument("--trigger", default="1s", help="the job's trigger")
    args = parser.parse_args()

    total = FILE_LINES * (1 + args.steady_files) + 50_000
    catalog = Catalog(total=total, seed=1)
    lines = [json.dumps(catalog.item(i, "http://127.0.0.1:9312")) for i in range(total)]
    files = [lines[i : i + FILE_LINES] for i in range(0, total, FILE_LINES)]

    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp:
        job = Job(Path(tmp), args.trigger)
        try:
            land(job.items, "f000_easy_t.jl", files[0])
            started = job.start()
            job.wait_listings(FILE_LINES, 600)
            startup = time.monotonic() - started

            latencies = []
            cpu_before = job.cpu_seconds()
            for k in range(1, args.steady_files + 1):
                landed = land(job.items, f"f{k:03d}_easy_t.jl", files[k])
                document = job.wait_listings(FILE_LINES * (k + 1), 120)
                written = datetime.fromisoformat(document["updated_at"]).timestamp()
                latencies.append(written - landed)
                time.sleep(max(0.0, landed + args.interval - time.time()))
            steady = job.batch_millis()[1:]
            steady_cpu = (job.cpu_seconds() - cpu_before) / args.steady_files

            before = FILE_LINES * (args.steady_files + 1)
            t0 = time.monotonic()
            for k, chunk in enumerate(files[args.steady_files + 1 :]):
                land(job.items, f"g{k:03d}_easy_t.jl", chunk)
            job.wait_listings(before + 50_000, 600)
            bulk = time.monotonic() - t0
        finally:
            job.stop()

    print(f"start-up to first table (1 file of {FILE_LINES:,} lines): {startup:.1f} s")
    print(
        f"steady micro-batch ({len(steady)} batches): p50 {statistics.median(steady) / 1000:.2f} s,"
        f" p95 {percentile(steady, 95) / 1000:.2f} s, max {max(steady) / 1000:.2f} s"
    )
    print(
        f"file landed -> table written ({len(latencies)} files): p50 "
        f"{statistics.median(latencies):.2f} s, p95 {percentile(latencies, 95):.2f} s"
    )
    print(f"CPU time per steady 2,000-line file (JVM + Python): {steady_cpu:.2f} s")
    print(f"50,000 listings in 25 files landed at once -> table: {bulk:.1f} s")
    print(f"peak RSS of the job (JVM + Python): {job.peak_rss / 2**20:,.0f} MiB")
    print(f"load average during the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
