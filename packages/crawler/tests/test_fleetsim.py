"""The fleet simulator (`bench/fleetsim.py`) on a small fleet: the real crawl-master against
simulated scrapyd nodes, one of three killed midway; every URL ends in exactly one outcome.
Keeps the benchmark working (its figures are the benchmark's, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLEETSIM = Path(__file__).resolve().parents[3] / "bench" / "fleetsim.py"


def test_a_small_simulated_fleet_with_a_node_killed_settles_every_url_once(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, FLEETSIM, "--nodes", "3", "--slots", "2", "--urls", "3000",
         "--per-page", "500", "--batch-size", "200", "--kill", "0.34", "--node-timeout", "5",
         "--timeout", "240", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    figures = json.loads((tmp_path / "fleetsim.json").read_text())
    assert figures["every_url_once"], (figures.get("once_problems"), run.stderr[-2000:])
    assert sum(figures["urls"].values()) == 3000
    for key in ("urls_per_second", "master_cpu_ms_per_url", "report_p99_seconds",
                "ledger_bytes_per_url"):  # fmt: skip
        assert figures[key] > 0, key
    assert set(figures["master_rss_mib"]) == {"10", "50", "100"}
