"""`boostwords` end to end: real spark-submit, stopped by a signal, restarted from checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.demosite.catalog import Catalog, price_text

BOOSTWORDS = str(Path(sys.executable).parent / "boostwords")
DEADLINE = 240.0  # a JVM start on a busy 2-core machine


def catalog_lines(start: int, stop: int) -> list[str]:
    catalog = Catalog(total=1000, seed=3)
    lines = []
    for i in range(start, stop):
        item = catalog.item(i, "http://127.0.0.1:9312")
        item["price"] = [price_text(item["price"])]
        lines.append(json.dumps(item))
    return lines


def land(items: Path, name: str, lines: list[str]) -> None:
    (items / f".{name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(items / f".{name}", items / name)


def table(output: Path) -> dict[str, Any] | None:
    path = output / "shifts.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def scrape(port: int) -> dict[str, float]:
    """The job's Prometheus samples by name (labels dropped), or {} if it does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class Runs:
    """Starts `boostwords` processes in their own process groups; stops what is left at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items, self.output = root / "items", root / "out"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        proc = subprocess.Popen(
            [
                BOOSTWORDS,
                str(self.items),
                "--checkpoint",
                str(self.root / "ckpt"),
                "--output",
                str(self.output),
                "--trigger",
                "500ms",
                "--min-count",
                "1",
                *extra,
            ],
            stdout=(self.root / f"stdout{n}").open("wb"),
            stderr=(self.root / f"stderr{n}").open("wb"),
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def output_of(self, n: int) -> str:
        """Everything run `n` printed (spark-submit sends the Python driver's stderr to stdout)."""
        return "".join(
            (self.root / f"{stream}{n}").read_text(errors="replace")
            for stream in ("stdout", "stderr")
        )

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Runs]:
    runs = Runs(tmp_path)
    runs.items.mkdir()
    yield runs
    runs.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_stop_on_signal_then_restart_from_checkpoint(
    runs: Runs,
    wait_for: Callable[..., Any],
    free_port: Callable[[], int],
    reference_table: Callable,
    assert_same_table: Callable,
) -> None:
    first, second, third = catalog_lines(0, 400), catalog_lines(400, 700), catalog_lines(700, 1000)
    second += [*first[:100], "{broken"]
    land(runs.items, "b1_easy_t.jl", first)
    port = free_port()
    proc = runs.start("--metrics", f"127.0.0.1:{port}")
    wait_for(
        lambda: (table(runs.output) or {}).get("listings") == 400, DEADLINE, what="first table"
    )
    land(runs.items, "b2_easy_t.jl", second)
    wait_for(lambda: (table(runs.output) or {}).get("listings") == 700, DEADLINE, what="2nd table")
    metrics = wait_for(lambda: (m := scrape(port)).get("scrapyfleet_analytics_listings") == 700
                       and m.get("scrapyfleet_analytics_micro_batches_total", 0) >= 2 and m, 30,
                       what="the metrics to count 700 listings in two micro-batches")  # fmt: skip
    assert metrics["scrapyfleet_analytics_bad_records"] == 1
    assert metrics["scrapyfleet_analytics_files_unreadable"] == 0
    assert metrics["scrapyfleet_analytics_landed_to_updated_seconds_count"] == 2  # two files
    assert metrics["scrapyfleet_analytics_micro_batch_seconds_count"] >= 2

    os.killpg(proc.pid, signal.SIGTERM)  # as Ctrl-C or a supervisor would: JVM and Python driver
    proc.wait(timeout=60)
    wait_for(lambda: not group_alive(proc.pid), 60, what="the Python driver to exit")
    output = runs.output_of(0)
    assert "Traceback" not in output
    assert "batch 1: 700 listings, 1 bad records" in output

    land(runs.items, "b3_easy_t.jl", third + first[:50])  # lands while the job is down
    restarted = runs.start("--available-now")
    assert restarted.wait(timeout=DEADLINE) == 0, runs.output_of(1)
    assert "Traceback" not in runs.output_of(1)
    document = table(runs.output)
    assert document is not None
    assert_same_table(document, reference_table(first + second + third + first[:50]))
    progress = json.loads((runs.output / "progress.json").read_text())
    assert [entry["listings"] for entry in progress][-1] == 1000
