"""Run the book's cases: every variant as its own crawl, printed beside the book and the model."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from scrapyfleet.crawler.coremetrics import FIELDS
from scrapyfleet.demo.speedlab.cases import Case, model_time
from scrapyfleet.demo.speedlab.fit import Fit
from scrapyfleet.demo.speedlab.plots import plot_sweep, plot_trace
from scrapyfleet.demo.speedlab.runner import RunResult, run_crawl
from scrapyfleet.demo.speedlab.symptoms import figures, is_bathtub

log = structlog.get_logger(__name__)


NULL_CRAWL = {"SPEED_TOTAL_ITEMS": 1, "SPEED_T_RESPONSE": 0}


def start_stop_now(site: str) -> float:
    """t_start/stop on this machine now: the wall time of a one-item crawl with no wait."""
    return run_crawl(site, NULL_CRAWL).wall


def slug(text: str) -> str:
    """`direct (treq)` -> `direct_treq`: a label as a file name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def case_rows(
    case: Case, results: Sequence[RunResult], fit: Fit, start_stop: float
) -> list[dict[str, Any]]:
    """One row per variant: the book's figure, ours, the model's time (also with `start_stop`)."""
    now = replace(fit, t_start_stop=start_stop)
    return [
        {
            "variant": variant.label,
            "book": variant.book,
            "ours": figures(run, case.columns),
            "model": round(model_time(fit, case.settings(variant)), 2),
            "model_now": round(model_time(now, case.settings(variant)), 2),
            "wall": round(run.wall, 2),
            "cpu": round(run.cpu, 2),
            "items": run.items,
            "returncode": run.returncode,
            "peak": {c: run.peak(c) for c in ("scheduler", "downloader", "scraper", "memory")},
            "settings": run.settings,
            "trace": [{k: row[k] for k in ("t", *FIELDS)} for row in run.trace],
        }
        for variant, run in zip(case.variants, results, strict=True)
    ]


def print_case(case: Case, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n{case.title}\n  book settings: {case.book_settings}\n  symptom: {case.symptom}")
    if case.note:
        print(f"  note: {case.note}")
    for row in rows:
        print(f"  {row['variant']}")
        print(f"    book:  {row['book']}")
        print(f"    ours:  {row['ours']}")
        print(
            f"    model: {row['model']:.1f} s ({row['model_now']:.1f} s with today's start/stop)",
            flush=True,
        )


def run_case(
    name: str, case: Case, site: str, out: Path, fit: Fit, start_stop: float
) -> dict[str, Any]:
    """Run every variant of one case; print, write `<name>.json` and plots; return the report."""
    results = [run_crawl(site, case.settings(variant)) for variant in case.variants]
    out.mkdir(parents=True, exist_ok=True)
    for variant, run in zip(case.variants, results, strict=True):
        if variant.trace and run.trace:
            title = f"{case.title} ({variant.label})"
            plot_trace(run.trace, title, out / f"{name}_{slug(variant.label)}.png")
    rows = case_rows(case, results, fit, start_stop)
    report: dict[str, Any] = {
        "case": name,
        "title": case.title,
        "book_settings": case.book_settings,
        "symptom": case.symptom,
        "note": case.note,
        "fit": fit.__dict__,
        "start_stop_now": round(start_stop, 2),
        "rows": rows,
    }
    if case.sweep:
        xs = [float(str(v.settings[case.sweep])) for v in case.variants]
        walls = [r.wall for r in results]
        report["bathtub"] = is_bathtub(xs, walls)
        plot_sweep(xs, walls, case.sweep, case.title, out / f"{name}_bathtub.png")
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    print_case(case, rows)
    if case.sweep:
        print(f"  bathtub (an inner minimum below both ends): {report['bathtub']}")
    return report
