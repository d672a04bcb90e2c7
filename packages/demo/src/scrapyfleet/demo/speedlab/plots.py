"""PNG plots of the speed lab's grid and of a run's core-metrics trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from scrapyfleet.crawler.coremetrics import COLUMNS, FIELDS
from scrapyfleet.demo.speedlab.fit import Fit
from scrapyfleet.demo.speedlab.symptoms import SCRAPER_MAX_ACTIVE_SIZE


def plot_time_vs_load(rows: Sequence[dict[str, Any]], fit: Fit, path: Path) -> Path:
    """t_job against N/CONCURRENT_REQUESTS per t_response, with the fitted lines."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t_response in sorted({float(r["t_response"]) for r in rows}):
        runs = sorted((r for r in rows if float(r["t_response"]) == t_response), key=_load)
        xs = [_load(r) for r in runs]
        points = ax.plot(
            xs, [float(r["wall"]) for r in runs], "o", label=f"t_response {t_response}s"
        )
        ends = [0.0, max(xs)]
        ax.plot(ends, [fit.predict(x, t_response) for x in ends], "-", color=points[0].get_color())
    ax.set_xlabel("N / CONCURRENT_REQUESTS")
    ax.set_ylabel("t_job (s)")
    ax.set_title(
        f"fit: t_overhead {fit.t_overhead * 1000:.1f} ms, t_start/stop {fit.t_start_stop:.2f} s"
    )
    ax.legend()
    return _save(fig, path)


def plot_throughput(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Items per second against CONCURRENT_REQUESTS, one line per t_response."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t_response in sorted({float(r["t_response"]) for r in rows}):
        runs = sorted(
            (r for r in rows if float(r["t_response"]) == t_response),
            key=lambda r: int(r["concurrency"]),
        )
        ax.plot(
            [int(r["concurrency"]) for r in runs],
            [float(r["throughput"]) for r in runs],
            "o-",
            label=f"t_response {t_response}s",
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("CONCURRENT_REQUESTS")
    ax.set_ylabel("items / s")
    ax.legend()
    return _save(fig, path)


def plot_trace(trace: Sequence[dict[str, Any]], title: str, path: Path) -> Path:
    """One run's core metrics over time: d/load, scrape, p/line above; mem and s/edule below."""
    fig, (ax, low) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    ts = [float(row["t"]) for row in trace]
    for column, name in zip(COLUMNS[1:4], FIELDS[1:4], strict=True):
        ax.plot(ts, [row[name] for row in trace], label=column)
    ax.set_ylabel("requests / responses / items")
    ax.legend(loc="upper right")
    ax.set_title(title)
    low.plot(ts, [row["memory"] / 1e6 for row in trace], "k-", label="mem (MB)")
    low.axhline(SCRAPER_MAX_ACTIVE_SIZE / 1e6, color="k", linestyle=":", label="5 MB limit")
    low.set_ylabel("scraper memory (MB)")
    low.set_xlabel("time (s)")
    queue = low.twinx()
    queue.plot(ts, [row["scheduler"] for row in trace], color="tab:purple", label=COLUMNS[0])
    queue.set_ylabel("scheduler queue")
    low.legend(loc="upper left")
    queue.legend(loc="upper right")
    return _save(fig, path)


def plot_sweep(
    xs: Sequence[float], walls: Sequence[float], setting: str, title: str, path: Path
) -> Path:
    """Crawl time against one swept setting (case 5's bathtub)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs, walls, "o-")
    ax.set_xlabel(setting)
    ax.set_ylabel("t_job (s)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    return _save(fig, path)


Lines = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def plot_panels(
    panels: Sequence[tuple[str, Lines, float, str]], xlabel: str, title: str, path: Path
) -> Path:
    """Stacked panels sharing x: (y label, one line per key, a dashed ceiling, its label)."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 3.2 * len(panels)), sharex=True)
    for ax, (ylabel, lines, ceiling, ceiling_label) in zip(axes, panels, strict=True):
        for label, (xs, ys) in lines.items():
            ax.plot(xs, ys, "o-", label=label)
        ax.axhline(ceiling, linestyle="--", color="grey", label=ceiling_label)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
    axes[0].set_title(title)
    axes[0].legend(fontsize="small")
    axes[-1].set_xlabel(xlabel)
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def _load(row: dict[str, Any]) -> float:
    return int(row["n"]) / int(row["concurrency"])


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
