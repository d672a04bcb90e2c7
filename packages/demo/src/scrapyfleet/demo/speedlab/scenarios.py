"""The book's six troubleshooting cases as named experiments, each measured beside the book."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

import structlog

from scrapyfleet.demo.speedlab.plots import plot_trace
from scrapyfleet.demo.speedlab.runner import RunResult, run_crawl

log = structlog.get_logger(__name__)

Settings = dict[str, object]


@dataclass(frozen=True)
class Scenario:
    title: str
    symptom: str
    book: str
    variants: dict[str, Settings]
    figure: Callable[[dict[str, RunResult]], str]


def _walls(results: dict[str, RunResult]) -> str:
    return ", ".join(f"{label}: {r.wall:.1f} s" for label, r in results.items())


def mean_downloader(run: RunResult) -> float:
    busy = [row["downloader"] for row in run.trace if row["done"] or row["downloader"]]
    return mean(busy) if busy else 0.0


def _cpu(results: dict[str, RunResult]) -> str:
    return ", ".join(
        f"CR {label}: {r.items / r.wall:.0f} items/s at {r.cpu_share:.0%} CPU"
        for label, r in results.items()
    )


def _starved(results: dict[str, RunResult]) -> str:
    return ", ".join(
        f"{label}: {r.wall:.1f} s, mean d/load {mean_downloader(r):.1f}"
        for label, r in results.items()
    )


def _api(results: dict[str, RunResult]) -> str:
    return ", ".join(
        f"{label}: {r.wall:.1f} s, peak d/load {r.peak('downloader')}"
        for label, r in results.items()
    )


def _large(results: dict[str, RunResult]) -> str:
    return ", ".join(
        f"{label}: {r.wall:.1f} s, peak scrape {r.peak('scraper')}, "
        f"peak mem {r.peak('memory') / 1e6:.1f} MB"
        for label, r in results.items()
    )


API = {
    "SPEED_TOTAL_ITEMS": 1000,
    "SPEED_T_RESPONSE": 0.25,
    "SPEED_API_T_RESPONSE": 1,
    "CONCURRENT_REQUESTS": 16,
}
STARVED = {
    "SPEED_TOTAL_ITEMS": 1000,
    "SPEED_T_RESPONSE": 0.1,
    "SPEED_START_REQUESTS_STYLE": "UseIndex",
    "SPEED_DETAILS_PER_INDEX_PAGE": 4,
    "CONCURRENT_REQUESTS": 16,
}

SCENARIOS: dict[str, Scenario] = {
    "cpu": Scenario(
        "Case 1: saturated CPU",
        "more CONCURRENT_REQUESTS stop buying throughput while the crawler's CPU is at ~100%",
        "throughput flattens as CPU passes 80-90% (the book's first limit to stop at)",
        {
            str(cr): {"SPEED_TOTAL_ITEMS": 3000, "SPEED_T_RESPONSE": 0.1, "CONCURRENT_REQUESTS": cr}
            for cr in (16, 64, 256)
        },
        _cpu,
    ),
    "blocking": Scenario(
        "Case 2: blocking code",
        "time ~ items x blocking delay whatever CONCURRENT_REQUESTS; downloader nearly empty",
        "100 URLs x 0.1 s blocking: ~13 s at CR 16, 32 and 64 (2-3 s expected)",
        {
            f"CR {cr}": {
                "SPEED_TOTAL_ITEMS": 100,
                "SPEED_T_RESPONSE": 0.125,
                "SPEED_SPIDER_BLOCKING_DELAY": 0.1,
                "CONCURRENT_REQUESTS": cr,
            }
            for cr in (16, 32, 64)
        },
        _walls,
    ),
    "api": Scenario(
        "Case 3: API calls through the downloader",
        "d/load above CONCURRENT_REQUESTS, filled with API requests; crawl ~3x slower",
        "1000 items, t_response 0.25 s, API 1 s, CR 16: 55 s via the downloader, "
        "~20 s via treq (19 s expected)",
        {
            "downloader": {**API, "SPEED_PIPELINE_API_VIA_DOWNLOADER": 1},
            "aiohttp": {**API, "SPEED_PIPELINE_API_VIA_AIOHTTP": 1},
        },
        _api,
    ),
    "large": Scenario(
        "Case 4: large responses overflow the scraper's 5 MB",
        "scraper holds > CONCURRENT_REQUESTS responses at ~5 MB; the downloader idles in waves",
        "120 kB detail pages: 31 s instead of 20 s, scrape up to 48, mem up to 5.8 MB",
        {
            "120 kB pages": {
                **API,
                "SPEED_PIPELINE_API_VIA_AIOHTTP": 1,
                "SPEED_DETAIL_EXTRA_SIZE": 120_000,
            },
            "small pages": {**API, "SPEED_PIPELINE_API_VIA_AIOHTTP": 1},
        },
        _large,
    ),
    "items": Scenario(
        "Case 5: item concurrency",
        "many items per page and a slow pipeline: time ~ items per page / CONCURRENT_ITEMS",
        "with 100 items per page, too low CONCURRENT_ITEMS serialises each page's items; "
        "raising it cures the pipeline bottleneck until memory/CPU limit it",
        {
            f"CONCURRENT_ITEMS {ci}": {
                "SPEED_TOTAL_ITEMS": 1000,
                "SPEED_ITEMS_PER_DETAIL": 100,
                "SPEED_T_RESPONSE": 0.1,
                "SPEED_PIPELINE_ASYNC_DELAY": 0.1,
                "CONCURRENT_ITEMS": ci,
            }
            for ci in (1, 10, 100)
        },
        _walls,
    ),
    "starved": Scenario(
        "Case 6: downloader starved by index pages",
        "d/load stays below CONCURRENT_REQUESTS while the crawl walks one index chain",
        "the downloader runs below CONCURRENT_REQUESTS with UseIndex; "
        "index shards or pointahead refill it",
        {
            "1 chain": STARVED,
            "10 shards": {**STARVED, "SPEED_INDEX_SHARDS": 10},
            "pointahead 4": {**STARVED, "SPEED_INDEX_POINTAHEAD": 4},
        },
        _starved,
    ),
}


def run_scenario(name: str, site: str, out: Path) -> dict[str, Any]:
    """Run every variant of one scenario; print and return the book's figure beside ours."""
    scenario = SCENARIOS[name]
    results = {label: run_crawl(site, settings) for label, settings in scenario.variants.items()}
    for label, run in results.items():
        if run.trace:
            slug = label.replace(" ", "_").replace("/", "_")
            plot_trace(run.trace, f"{scenario.title} ({label})", out / f"{name}_{slug}.png")
    report = {
        "scenario": name,
        "title": scenario.title,
        "symptom": scenario.symptom,
        "book": scenario.book,
        "ours": scenario.figure(results),
        "runs": {
            label: {
                "wall": round(r.wall, 2),
                "cpu": round(r.cpu, 2),
                "items": r.items,
                "returncode": r.returncode,
                "peak": {c: r.peak(c) for c in ("scheduler", "downloader", "scraper", "memory")},
                "settings": r.settings,
            }
            for label, r in results.items()
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(f"{scenario.title}\n  symptom: {scenario.symptom}\n  book:    {scenario.book}")
    print(f"  ours:    {report['ours']}", flush=True)
    return report
