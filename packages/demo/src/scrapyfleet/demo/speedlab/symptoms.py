"""The figures each case is read by, computed from one run's result and core-metrics trace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import mean

from scrapyfleet.demo.speedlab.runner import RunResult

# The scraper's limit on responses in progress (Scrapy's `Slot.MIN_RESPONSE_SIZE` x 5000).
SCRAPER_MAX_ACTIVE_SIZE = 5_000_000


def mean_downloader(run: RunResult) -> float:
    busy = [row["downloader"] for row in run.trace if row["done"] or row["downloader"]]
    return mean(busy) if busy else 0.0


def downloader_at_limit(run: RunResult) -> float | None:
    """Mean d/load while the scraper holds its 5 MB or more; None if it never does."""
    near = [row["downloader"] for row in run.trace if row["memory"] >= SCRAPER_MAX_ACTIVE_SIZE]
    return mean(near) if near else None


def items_per_second(run: RunResult) -> float:
    """Items over Scrapy's own elapsed time (engine start to close, no interpreter start-up)."""
    return run.items / run.elapsed if run.elapsed else 0.0


def is_bathtub(xs: Sequence[float], ys: Sequence[float], margin: float = 0.05) -> bool:
    """Whether `ys` (sorted by `xs`) has an inner minimum clearly below both ends."""
    if len(xs) != len(ys) or len(ys) < 3:
        return False
    ordered = [y for _, y in sorted(zip(xs, ys, strict=True))]
    low = min(ordered[1:-1])
    return low < (1 - margin) * ordered[0] and low < (1 - margin) * ordered[-1]


def _at_limit(run: RunResult) -> str:
    value = downloader_at_limit(run)
    return "never at 5 MB" if value is None else f"{value:.1f}"


# Column name -> its figure, formatted; the cases pick theirs.
FIGURES: dict[str, Callable[[RunResult], str]] = {
    "time": lambda r: f"{r.wall:.1f} s",
    "items/s": lambda r: f"{items_per_second(r):.0f}",
    "cpu": lambda r: f"{r.cpu_share:.0%}",
    "peak d/load": lambda r: str(r.peak("downloader")),
    "mean d/load": lambda r: f"{mean_downloader(r):.1f}",
    "d/load at 5 MB": _at_limit,
    "peak scrape": lambda r: str(r.peak("scraper")),
    "peak p/line": lambda r: str(r.peak("pipeline")),
    "peak mem": lambda r: f"{r.peak('memory') / 1e6:.1f} MB",
}


def figures(run: RunResult, columns: Sequence[str]) -> str:
    """`time 13.2 s, peak d/load 32, ...` for the chosen columns."""
    return ", ".join(f"{name} {FIGURES[name](run)}" for name in columns)
