"""Pure logic of the book's cases: their settings, the model's time, the symptoms' figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from scrapyfleet.crawler.speedlab.knobs import SETTING_TO_KNOB
from scrapyfleet.crawler.speedlab.pipeline import SpeedPipeline
from scrapyfleet.crawler.spiders.speed import SpeedSpider
from scrapyfleet.demo.speedlab.cases import BOOK_PROJECT, CASES, model_time, requests_of
from scrapyfleet.demo.speedlab.cli import SCENARIO_NAMES
from scrapyfleet.demo.speedlab.figure12 import lines_of
from scrapyfleet.demo.speedlab.fit import IDLE_FIT, Fit, load_fit
from scrapyfleet.demo.speedlab.runner import RunResult
from scrapyfleet.demo.speedlab.symptoms import downloader_at_limit, figures, is_bathtub

BOOK = Fit(t_overhead=0.006, t_start_stop=3.1, rms_residual=0.0)
# Every SPEED_* setting ch10-book-figures.md uses.
BOOK_KNOBS = {
    "SPEED_TOTAL_ITEMS",
    "SPEED_T_RESPONSE",
    "SPEED_API_T_RESPONSE",
    "SPEED_SPIDER_BLOCKING_DELAY",
    "SPEED_PIPELINE_BLOCKING_DELAY",
    "SPEED_PIPELINE_ASYNC_DELAY",
    "SPEED_PIPELINE_API_VIA_DOWNLOADER",
    "SPEED_PIPELINE_API_VIA_TREQ",
    "SPEED_DETAIL_EXTRA_SIZE",
    "SPEED_ITEMS_PER_DETAIL",
    "SPEED_START_REQUESTS_STYLE",
    "SPEED_DETAILS_PER_INDEX_PAGE",
    "SPEED_INDEX_POINTAHEAD",
    "SPEED_INDEX_SHARDS",
    "SPEED_INDEX_RULE_LAST",
    "SPEED_INDEX_HIGHER_PRIORITY",
}


def run_with(trace: list[dict[str, float]], **kw: float) -> RunResult:
    result = RunResult(settings={}, wall=kw.get("wall", 10.0), cpu=kw.get("cpu", 5.0), returncode=0)
    result.items, result.elapsed, result.trace = (
        int(kw.get("items", 100)),
        kw.get("elapsed", 5.0),
        trace,
    )
    return result


def row(downloader: int, memory: int, **kw: int) -> dict[str, float]:
    return {
        "scheduler": 0,
        "scraper": 0,
        "pipeline": 0,
        "done": 1,
        **kw,
        "downloader": downloader,
        "memory": memory,
    }


def test_the_model_reproduces_the_books_case_6_baseline() -> None:
    # The fixture: 500 items at CR 64, 1 s responses: "500/64 + 3.1 = 10.91 s" (no t_overhead).
    starved = CASES["starved"]
    listed, indexed = (starved.settings(v) for v in starved.variants[:2])
    assert model_time(Fit(0.0, 3.1, 0.0), listed) == pytest.approx(10.91, abs=0.01)
    assert model_time(BOOK, listed) == pytest.approx(1.006 * 500 / 64 + 3.1)
    assert requests_of(indexed) == 500 + 25  # 20 details per index page
    assert model_time(BOOK, indexed) > model_time(BOOK, listed)


def test_model_counts_pages_not_items() -> None:
    settings = {"SPEED_TOTAL_ITEMS": 20_000, "SPEED_ITEMS_PER_DETAIL": 100}
    assert requests_of(settings) == 200
    assert model_time(BOOK, settings) == pytest.approx((0.125 + 0.006) * 200 / 16 + 3.1)


def test_every_case_runs_on_the_books_project_settings() -> None:
    for case in CASES.values():
        for variant in case.variants:
            merged = case.settings(variant)
            assert set(BOOK_PROJECT) <= set(merged)
            assert all(merged[k] == v for k, v in variant.settings.items())
    assert CASES["api"].settings(CASES["api"].variants[0])["CONCURRENT_REQUESTS"] == 16


def test_every_book_knob_is_read_by_the_spider_pipeline_or_site() -> None:
    read_by = {
        "SPEED_SPIDER_BLOCKING_DELAY": ("spider", "blocking_delay", "0.1", 0.1),
        "SPEED_START_REQUESTS_STYLE": ("spider", "style", "UseIndex", "UseIndex"),
        "SPEED_INDEX_SHARDS": ("spider", "shards", "3", 3),
        "SPEED_INDEX_RULE_LAST": ("spider", "index_rule_last", "1", True),
        "SPEED_INDEX_HIGHER_PRIORITY": ("spider", "index_priority", "1", 1),
        "SPEED_PIPELINE_BLOCKING_DELAY": ("pipeline", "blocking_delay", "0.1", 0.1),
        "SPEED_PIPELINE_ASYNC_DELAY": ("pipeline", "async_delay", "3", 3.0),
        "SPEED_PIPELINE_API_VIA_DOWNLOADER": ("pipeline", "via_downloader", "1", True),
        "SPEED_PIPELINE_API_VIA_TREQ": ("pipeline", "via_aiohttp", "1", True),
    }
    assert set(SETTING_TO_KNOB) | set(read_by) >= BOOK_KNOBS, "a book knob nobody reads"
    for knob, (component, attribute, given, expected) in read_by.items():
        crawler = get_crawler(SpeedSpider, {knob: given})
        obj = SpeedSpider.from_crawler(crawler) if component == "spider" else SpeedPipeline(crawler)
        assert getattr(obj, attribute) == expected, knob
    used = {k for c in CASES.values() for v in c.variants for k in v.settings if k[:6] == "SPEED_"}
    assert used <= BOOK_KNOBS


def test_the_cli_offers_every_case() -> None:
    assert tuple(CASES) == SCENARIO_NAMES


def test_bathtub_needs_an_inner_minimum_below_both_ends() -> None:
    assert is_bathtub([10, 20, 50, 100, 150], [60, 30, 14, 15, 18])
    assert not is_bathtub([10, 20, 50, 100, 150], [60, 30, 14, 13, 12])  # still falling
    assert not is_bathtub([150, 10, 50], [18, 60, 17.5])  # within 5% of the right end
    assert is_bathtub([150, 10, 50], [18, 60, 14])  # sorted by x first
    assert not is_bathtub([1, 2], [3, 1])


def test_downloader_at_the_scrapers_limit() -> None:
    run = run_with([row(16, 4_900_000), row(3, 5_000_000), row(5, 5_600_000), row(16, 0)])
    assert downloader_at_limit(run) == 4.0
    assert downloader_at_limit(run_with([row(16, 4_999_999)])) is None
    assert "never at 5 MB" in figures(run_with([row(16, 1)]), ("d/load at 5 MB",))


def test_figures_name_each_column() -> None:
    run = run_with(
        [row(32, 2_000_000, scraper=40, pipeline=64)], wall=55.2, items=1000, elapsed=50.0
    )
    text = figures(
        run, ("time", "items/s", "peak d/load", "peak p/line", "peak scrape", "peak mem")
    )
    assert text == (
        "time 55.2 s, items/s 20, peak d/load 32, peak p/line 64, peak scrape 40, peak mem 2.0 MB"
    )


def test_figure12_lines_per_details_sorted_by_value() -> None:
    rows = [
        {"axis": "shards", "details": 20, "value": 2, "items_per_s": 30.0},
        {"axis": "shards", "details": 20, "value": 1, "items_per_s": 17.0},
        {"axis": "shards", "details": 10, "value": 1, "items_per_s": 9.0},
        {"axis": "pointahead", "details": 10, "value": 1, "items_per_s": 9.0},
    ]
    assert lines_of(rows, "shards") == {
        "10 details / index page": ([1], [9.0]),
        "20 details / index page": ([1, 2], [17.0, 30.0]),
    }


def test_load_fit_prefers_the_grids_own(tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    assert load_fit(path)[0] == IDLE_FIT
    path.write_text(json.dumps({"t_overhead": 0.002, "t_start_stop": 3.0, "rms_residual": 0.1}))
    assert load_fit(path) == (Fit(0.002, 3.0, 0.1), str(path))
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a speedlab fit"):
        load_fit(path)
