"""The book's experiment grid: T_RESPONSE x CONCURRENT_REQUESTS, one crawl process per cell."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from scrapyfleet.demo.speedlab.fit import Fit, fit_model
from scrapyfleet.demo.speedlab.plots import plot_throughput, plot_time_vs_load, plot_trace
from scrapyfleet.demo.speedlab.runner import RunResult, run_crawl

log = structlog.get_logger(__name__)

CSV_FIELDS = (
    "n",
    "t_response",
    "concurrency",
    "n_over_cr",
    "wall",
    "cpu",
    "items",
    "throughput",
    "peak_downloader",
    "returncode",
)


def grid_row(n: int, t_response: float, concurrency: int, run: RunResult) -> dict[str, Any]:
    return {
        "n": n,
        "t_response": t_response,
        "concurrency": concurrency,
        "n_over_cr": round(n / concurrency, 3),
        "wall": round(run.wall, 3),
        "cpu": round(run.cpu, 3),
        "items": run.items,
        "throughput": round(run.items / run.wall, 2) if run.wall else 0.0,
        "peak_downloader": run.peak("downloader"),
        "returncode": run.returncode,
    }


def run_grid(
    site: str,
    items: int,
    t_responses: Sequence[float],
    concurrencies: Sequence[int],
    out: Path,
    extra: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], Fit]:
    """Run every cell; write `grid.csv`, `fit.json` and the plots into `out`; return rows, fit."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    busiest: tuple[int, RunResult] | None = None
    for t_response in t_responses:
        for concurrency in concurrencies:
            settings = {
                "SPEED_TOTAL_ITEMS": items,
                "SPEED_T_RESPONSE": t_response,
                "CONCURRENT_REQUESTS": concurrency,
                **(extra or {}),
            }
            run = run_crawl(site, settings)
            rows.append(grid_row(items, t_response, concurrency, run))
            log.info("cell_done", **rows[-1])
            if busiest is None or concurrency >= busiest[0]:
                busiest = (concurrency, run)
    write_csv(rows, out / "grid.csv")
    good = [r for r in rows if r["returncode"] == 0 and r["items"] == items]
    fit = fit_model(
        [r["n_over_cr"] for r in good], [r["t_response"] for r in good], [r["wall"] for r in good]
    )
    (out / "fit.json").write_text(json.dumps(fit.__dict__, indent=2))
    plot_time_vs_load(good, fit, out / "time_vs_load.png")
    plot_throughput(good, out / "throughput.png")
    if busiest is not None and busiest[1].trace:
        concurrency, run = busiest
        title = f"core metrics, N={items}, CR={concurrency}, t_response={t_responses[-1]}s"
        plot_trace(run.trace, title, out / "trace.png")
    return rows, fit


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
