"""The run report: recovered shifts against the site's ground truth, headline figures, the chart."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scrapyfleet.demo.state import extremes, iso_seconds
from scrapyfleet.demosite.catalog import WordTruth

REPORT_FILE = "report.json"
CHART_FILE = "chart.png"
WORDS_SHOWN = 10


def accuracy(words: list[dict[str, Any]], truth: dict[str, WordTruth]) -> dict[str, Any]:
    """How far the recovered shifts are from the truth, over every word of either side."""
    recovered = {w["word"]: w for w in words}
    missing = sorted(set(truth) - set(recovered))
    unexpected = sorted(set(recovered) - set(truth))
    errors = [abs(recovered[w]["shift"] - truth[w].shift) for w in truth if w in recovered]
    return {
        "words": len(truth),
        "missing_words": missing,
        "unexpected_words": unexpected,
        "max_abs_error": max(errors, default=None),
    }


def planted_rows(
    words: list[dict[str, Any]], truth: dict[str, WordTruth], planted: dict[str, float]
) -> list[dict[str, Any]]:
    """Every planted word: its planted effect, true shift and recovered shift."""
    recovered = {w["word"]: w["shift"] for w in words}
    rows = []
    for word, effect in sorted(planted.items(), key=lambda kv: -kv[1]):
        shift = recovered.get(word)
        rows.append({
            "word": word,
            "planted": effect,
            "truth": truth[word].shift if word in truth else None,
            "shift": shift,
            "sign_ok": shift is not None and (shift > 0) == (effect > 0),
        })  # fmt: skip
    return rows


def landed_files(items_dir: Path) -> list[tuple[float, int]]:
    """(landing time, lines) of every whole item file, in landing order."""
    files = [p for p in items_dir.glob("*.jl") if not p.name.startswith((".", "_"))]
    landed = []
    for path in files:
        with path.open("rb") as f:
            landed.append((path.stat().st_mtime, sum(1 for _ in f)))
    return sorted(landed)


def landed_to_updated(
    landed: list[tuple[float, int]], history: list[dict[str, Any]]
) -> list[float]:
    """Seconds from each file's landing to the first table that counts it.

    A table counts the file once its listing count reaches the lines landed up to that file.
    """
    tables = [(iso_seconds(h["updated_at"]), int(h["listings"])) for h in history]
    latencies, cumulative = [], 0
    for landed_at, lines in landed:
        cumulative += lines
        later = [t for t, listings in tables if listings >= cumulative and t >= landed_at]
        if later:
            latencies.append(min(later) - landed_at)
    return latencies


def percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def figures(
    started_wall: float,
    ended_wall: float,
    summary: dict[str, Any],
    history: list[dict[str, Any]],
    latencies: list[float],
) -> dict[str, Any]:
    """Headline figures: wall time (start to the last table), pages/s, time to the first table,
    table latency."""
    ended = iso_seconds(history[-1]["updated_at"]) if history else ended_wall
    wall = ended - started_wall
    pages = int(summary.get("pages") or 0)
    first = iso_seconds(history[0]["updated_at"]) - started_wall if history else None
    return {
        "wall_seconds": round(wall, 2),
        "crawl_seconds": summary.get("wall_seconds"),
        "pages": pages,
        "pages_per_second": round(pages / wall, 1) if wall > 0 else None,
        "crawl_pages_per_second": summary.get("pages_per_second"),
        "first_table_seconds": round(first, 2) if first is not None else None,
        "landed_to_updated_p50": _round(percentile(latencies, 50)),
        "landed_to_updated_p95": _round(percentile(latencies, 95)),
        "landed_files": len(latencies),
    }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def write_report(run_dir: Path, report: dict[str, Any]) -> Path:
    path = run_dir / REPORT_FILE
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def write_chart(
    run_dir: Path,
    words: list[dict[str, Any]],
    planted: dict[str, float],
    history: list[dict[str, Any]],
    crawled: list[tuple[float, int]],
    started_wall: float,
) -> Path:
    """Top/bottom shifts with the planted effects marked, and listings counted over time."""
    top, bottom = extremes(words, WORDS_SHOWN)
    shown = top + bottom[::-1]
    from matplotlib.figure import Figure  # ~1 s to import: only when the run is over

    fig = Figure(figsize=(13, 6), layout="tight")
    bars, counted = fig.subplots(1, 2, width_ratios=(3, 2))
    y = range(len(shown))
    bars.barh(y, [w["shift"] for w in shown], color=["tab:green" if w["shift"] > 0 else
              "tab:red" for w in shown], label="recovered shift")  # fmt: skip
    marks = [(i, planted[w["word"]]) for i, w in enumerate(shown) if w["word"] in planted]
    if marks:
        bars.scatter([m[1] for m in marks], [m[0] for m in marks], marker="D", color="black",
                     zorder=3, label="planted effect")  # fmt: skip
    bars.set_yticks(list(y), [w["word"] for w in shown])
    bars.invert_yaxis()
    bars.axvline(0, color="grey", linewidth=0.8)
    bars.set_xlabel("shift of the average price")
    bars.set_title(f"top and bottom {WORDS_SHOWN} title words")
    bars.legend(loc="lower right")
    times = [iso_seconds(h["updated_at"]) - started_wall for h in history]
    counted.step([0.0, *times], [0, *(h["listings"] for h in history)], where="post",
                 label="counted by Spark")  # fmt: skip
    counted.plot([c[0] for c in crawled], [c[1] for c in crawled], label="crawled (master)")
    counted.set_xlabel("seconds since start")
    counted.set_ylabel("listings")
    counted.set_title("items counted over time")
    counted.legend(loc="upper left")
    counted.grid(alpha=0.3)
    path = run_dir / CHART_FILE
    fig.savefig(path, dpi=100)
    return path


def print_final(
    console: Console,
    words: list[dict[str, Any]],
    truth: dict[str, WordTruth],
    planted: dict[str, float],
    headline: dict[str, Any],
) -> None:
    """The final top and bottom words, each beside its planted effect, and the figures."""
    top, bottom = extremes(words, WORDS_SHOWN)
    table = Table("rank", "word", "shift", "truth", "planted", title="title words by price shift")
    for label, rows in (("top", top), ("bottom", bottom)):
        for i, w in enumerate(rows, 1):
            true = truth.get(w["word"])
            effect = planted.get(w["word"])
            table.add_row(
                f"{label} {i}",
                w["word"],
                f"{w['shift']:+.4%}",
                f"{true.shift:+.4%}" if true else "-",
                f"{effect:+.0%}" if effect is not None else "-",
            )
        table.add_section()
    console.print(table)
    console.print(
        f"wall time {headline['wall_seconds']:.1f} s, {headline['pages']:,} pages, "
        f"{headline['pages_per_second']} pages/s end to end, first shift table after "
        f"{headline['first_table_seconds']} s, landed-to-updated p50/p95 "
        f"{headline['landed_to_updated_p50']}/{headline['landed_to_updated_p95']} s"
    )
