"""The book's figure 12: a UseIndex crawl's throughput against pointahead and against shards.

Every cell is one crawl: `SPEED_DETAILS_PER_INDEX_PAGE` x `SPEED_INDEX_POINTAHEAD` (one shard),
then the same details x `SPEED_INDEX_SHARDS` (pointahead 1). The book's claim: throughput rises
about linearly with both (each round of index pages yields details x pointahead x shards
details) until the system's limit, `CONCURRENT_REQUESTS / t_response` or the CPU.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from scrapyfleet.demo.speedlab.cases import BOOK_PROJECT
from scrapyfleet.demo.speedlab.plots import plot_panels
from scrapyfleet.demo.speedlab.runner import RunResult, run_crawl
from scrapyfleet.demo.speedlab.symptoms import items_per_second, mean_downloader

log = structlog.get_logger(__name__)

AXES = {"pointahead": "SPEED_INDEX_POINTAHEAD", "shards": "SPEED_INDEX_SHARDS"}
FIELDS = ("axis", "details", "value", "wall", "elapsed", "items", "items_per_s", "mean_dload")


def cell_row(axis: str, details: int, value: int, run: RunResult) -> dict[str, Any]:
    return {
        "axis": axis,
        "details": details,
        "value": value,
        "wall": round(run.wall, 2),
        "elapsed": round(run.elapsed, 2),
        "items": run.items,
        "items_per_s": round(items_per_second(run), 1),
        "mean_dload": round(mean_downloader(run), 1),
    }


def lines_of(
    rows: Sequence[dict[str, Any]], axis: str, column: str = "items_per_s"
) -> dict[str, tuple[list[int], list[float]]]:
    """`D details / index page` -> (axis values, column), sorted, for one axis's rows."""
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for row in sorted(
        (r for r in rows if r["axis"] == axis), key=lambda r: (r["details"], r["value"])
    ):
        xs, ys = lines.setdefault(f"{row['details']} details / index page", ([], []))
        xs.append(int(row["value"]))
        ys.append(float(row[column]))
    return lines


def run_figure12(
    site: str,
    items: int,
    t_response: float,
    concurrency: int,
    details: Sequence[int],
    values: Sequence[int],
    out: Path,
) -> list[dict[str, Any]]:
    """Run both grids; write `figure12.csv` and `figure12_<axis>.png`; return the rows."""
    base = {
        **BOOK_PROJECT,
        "SPEED_TOTAL_ITEMS": items,
        "SPEED_T_RESPONSE": t_response,
        "CONCURRENT_REQUESTS": concurrency,
        "SPEED_START_REQUESTS_STYLE": "UseIndex",
    }
    rows: list[dict[str, Any]] = []
    shared: dict[int, RunResult] = {}  # pointahead 1 with one shard is in both grids
    for axis, setting in AXES.items():
        for dp in details:
            for value in values:
                if value == 1 and dp in shared:
                    run = shared[dp]
                else:
                    run = run_crawl(
                        site, {**base, "SPEED_DETAILS_PER_INDEX_PAGE": dp, setting: value}
                    )
                if value == 1:
                    shared[dp] = run
                rows.append(cell_row(axis, dp, value, run))
                log.info("figure12_cell", **rows[-1])
    out.mkdir(parents=True, exist_ok=True)
    with (out / "figure12.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot_figure12(rows, items, t_response, concurrency, out)
    return rows


def plot_figure12(
    rows: Sequence[dict[str, Any]], items: int, t_response: float, concurrency: int, out: Path
) -> None:
    """`figure12_<axis>.png`: items/s and mean d/load against pointahead, and against shards."""
    title = f"UseIndex, {items} items, t_response {t_response} s, CR {concurrency}"
    for axis, setting in AXES.items():
        panels = (
            ("items / s", lines_of(rows, axis), concurrency / t_response, "CR / t_response"),
            ("mean d/load", lines_of(rows, axis, "mean_dload"), concurrency, "CR"),
        )
        plot_panels(panels, setting, title, out / f"figure12_{axis}.png")
