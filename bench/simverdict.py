"""The figures of a bench/fleetsim.py run, and its check that every URL ended in exactly one
outcome: the master's summary.json and failed.jl against what the simulated workers reported."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simproject import all_urls
from simworker import SimStats

MIB = 1024**2
RSS_POINTS = (10, 50, 100)  # % of the run's URLs settled
STEADY = (0.1, 0.9)  # the share of the run the steady figures span


@dataclass(frozen=True, slots=True)
class Sample:
    """The master at one moment: seconds since its start, share of URLs settled, RSS, CPU s."""

    seconds: float
    progress: float
    rss: int
    cpu: float


def _at(samples: list[Sample], progress: float) -> Sample | None:
    """The first sample at `progress` (1: the last one; retried URLs count twice)."""
    if progress >= 1:
        return samples[-1] if samples else None
    return next((s for s in samples if s.progress >= progress), samples[-1] if samples else None)


def _percentile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def once_problems(total: int, run_dir: Path, stats: SimStats) -> list[str]:
    """Why not every URL ended in exactly one outcome that agrees with the workers' reports."""
    summary = json.loads((run_dir / "summary.json").read_text())
    lines = [json.loads(line) for line in (run_dir / "failed.jl").read_text().splitlines()]
    master_not = {entry["url"]: entry["outcome"] for entry in lines}
    urls, problems = summary["urls"], []
    if summary["urls_total"] != total or urls.get("pending"):
        problems.append(f"{summary['urls_total']} URLs in the ledger, {urls.get('pending')} "
                        f"pending, of {total}")  # fmt: skip
    if len(master_not) != len(lines):
        problems.append(f"{len(lines) - len(master_not)} URLs twice in failed.jl")
    if urls.get("landed", 0) != total - len(master_not):
        problems.append(f"{urls.get('landed')} landed but {len(master_not)} of {total} not")
    if stray := master_not.keys() - all_urls(total):
        problems.append(f"{len(stray)} URLs in failed.jl that the spider never diverted")
    disagree = [u for u, o in stats.not_landed.items() if master_not.get(u) != o]
    if disagree:
        problems.append(f"{len(disagree)} URLs whose outcome is not the workers' last word, "
                        f"e.g. {disagree[0]}")  # fmt: skip
    unsaid = [u for u, o in master_not.items() if u not in stats.not_landed and o != "failed"]
    if unsaid:
        problems.append(f"{len(unsaid)} URLs not landed that no worker reported so: {unsaid[0]}")
    return problems


def figures(
    total: int, run_dir: Path, stats: SimStats, samples: list[Sample], wall: float, cpu: float
) -> dict[str, Any]:
    """Everything fleetsim.json holds about the run (but its configuration)."""
    if not (run_dir / "summary.json").is_file():
        return {"every_url_once": False, "once_problems": ["the master wrote no summary.json"]}
    summary = json.loads((run_dir / "summary.json").read_text())
    settled = summary["urls_total"] - summary["urls"].get("pending", 0)
    ledger = sum(p.stat().st_size for p in run_dir.glob("ledger.sqlite*") if p.name[-4:] != "-shm")
    rss = {str(p): round(s.rss / MIB, 1) for p in RSS_POINTS if (s := _at(samples, p / 100))}
    first, last = _at(samples, STEADY[0]), _at(samples, STEADY[1])
    steady: dict[str, float | None] = {"urls_per_second": None, "cpu_ms_per_url": None}
    if first and last and last.progress > first.progress and last.seconds > first.seconds:
        urls = (last.progress - first.progress) * total
        steady = {"urls_per_second": round(urls / (last.seconds - first.seconds), 1),
                  "cpu_ms_per_url": round(1000 * (last.cpu - first.cpu) / urls, 4)}  # fmt: skip
    problems = once_problems(total, run_dir, stats)
    p50, p99 = (_percentile(stats.report_seconds, q) for q in (50, 99))
    return {
        "urls_per_second": round(settled / wall, 1),
        "master_cpu_ms_per_url": round(1000 * cpu / max(settled, 1), 4),
        "report_p50_seconds": None if p50 is None else round(p50, 4),
        "report_p99_seconds": None if p99 is None else round(p99, 4),
        "ledger_bytes_per_url": round(ledger / max(settled, 1), 1),
        "master_rss_mib": rss,
        "every_url_once": not problems,
        "once_problems": problems,
        "steady": steady,
        "wall_seconds": round(wall, 2),
        "master_cpu_seconds": round(cpu, 2),
        "urls": summary["urls"],
        "batches": summary["batches"],
        "reports": len(stats.report_seconds),
        "worker_calls": dict(stats.calls),
        "worker_errors": dict(stats.errors),
        "summary_ok": summary["ok"],
        "fatal": summary["fatal"],
        "troubled_nodes": len(summary["troubled_nodes"]),
    }
