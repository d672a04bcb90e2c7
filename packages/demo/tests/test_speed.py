"""The `speed` spider's knobs, each crawl a separate process against a real demo site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from scrapyfleet.crawler.spiders.speed import SpeedSpider
from scrapyfleet.demo.speedlab.cases import Case, Variant
from scrapyfleet.demo.speedlab.fit import IDLE_FIT
from scrapyfleet.demo.speedlab.runner import RunResult, run_crawl
from scrapyfleet.demo.speedlab.scenarios import run_case
from scrapyfleet.demo.speedlab.site import demosite
from scrapyfleet.demo.speedlab.symptoms import mean_downloader

FAST = {"SPEED_T_RESPONSE": 0, "CORE_METRICS_INTERVAL": 0.05}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with demosite() as url:
        yield url


def crawl(site: str, **settings: object) -> RunResult:
    run = run_crawl(site, {**FAST, **settings}, timeout=60)
    assert run.returncode == 0 and run.reason == "finished", run
    return run


def feed(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "items.jl"
    return path, json.dumps({str(path): {"format": "jsonlines"}})


def read_items(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("style", ["Force", "Iterate", "UseIndex"])
def test_every_start_style_scrapes_every_item(site: str, style: str) -> None:
    run = crawl(site, SPEED_TOTAL_ITEMS=45, SPEED_START_REQUESTS_STYLE=style)
    assert run.items == 45
    index_pages = 3 if style == "UseIndex" else 0  # 45 items, 20 details per index page
    assert run.responses == 45 + index_pages
    assert run.trace[-1]["done"] == 45


def test_items_per_detail_and_extra_size_shape_the_pages(site: str) -> None:
    run = crawl(
        site, SPEED_TOTAL_ITEMS=50, SPEED_ITEMS_PER_DETAIL=10, SPEED_DETAIL_EXTRA_SIZE=20_000
    )
    assert (run.items, run.responses) == (50, 5)
    assert run.response_bytes > 5 * 20_000


def test_blocking_delay_serialises_whatever_the_concurrency(site: str) -> None:
    items, delay = 30, 0.05
    spider = [
        crawl(
            site, SPEED_TOTAL_ITEMS=items, CONCURRENT_REQUESTS=cr, SPEED_SPIDER_BLOCKING_DELAY=delay
        )
        for cr in (3, 30)
    ]
    pipeline = crawl(
        site, SPEED_TOTAL_ITEMS=items, CONCURRENT_REQUESTS=30, SPEED_PIPELINE_BLOCKING_DELAY=delay
    )
    for run in (*spider, pipeline):
        assert run.elapsed >= items * delay
    # Ten times the concurrency buys almost nothing once the code blocks.
    assert spider[1].elapsed > 0.7 * spider[0].elapsed


def test_async_pipeline_delay_overlaps(site: str, tmp_path: Path) -> None:
    path, feeds = feed(tmp_path)
    run = crawl(
        site,
        SPEED_TOTAL_ITEMS=40,
        CONCURRENT_REQUESTS=40,
        SPEED_PIPELINE_ASYNC_DELAY=0.05,
        FEEDS=feeds,
    )
    items = read_items(path)
    assert {i["translation"] for i in items} == {
        f"calculated-useful info for id: {i['id']}" for i in items
    }
    assert run.elapsed < 40 * 0.05


@pytest.mark.parametrize(
    ("knob", "api_responses"),
    [
        ("SPEED_PIPELINE_API_VIA_DOWNLOADER", 30),
        ("SPEED_PIPELINE_API_VIA_AIOHTTP", 0),
        ("SPEED_PIPELINE_API_VIA_TREQ", 0),  # the book's name for a client beside Scrapy's
    ],
)
def test_api_calls_go_where_the_knob_says(
    site: str, tmp_path: Path, knob: str, api_responses: int
) -> None:
    path, feeds = feed(tmp_path)
    run = crawl(site, SPEED_TOTAL_ITEMS=30, SPEED_API_T_RESPONSE=0.02, FEEDS=feeds, **{knob: 1})
    assert run.responses == 30 + api_responses  # only the downloader's requests are counted
    items = sorted(read_items(path), key=lambda i: int(str(i["id"])))
    assert [i["translation"] for i in items] == [
        f"api-t-useful info for id: {n}" for n in range(1, 31)
    ]


def test_shards_and_pointahead_raise_downloader_load(site: str) -> None:
    chain = {
        "SPEED_TOTAL_ITEMS": 120,
        "SPEED_DETAILS_PER_INDEX_PAGE": 2,
        "SPEED_T_RESPONSE": 0.03,
        "SPEED_START_REQUESTS_STYLE": "UseIndex",
        "CONCURRENT_REQUESTS": 16,
    }
    one = crawl(site, **chain)
    shards = crawl(site, **chain, SPEED_INDEX_SHARDS=10)
    ahead = crawl(site, **chain, SPEED_INDEX_POINTAHEAD=6)
    assert one.items == shards.items == ahead.items == 120
    assert mean_downloader(shards) > 2 * mean_downloader(one)
    assert mean_downloader(ahead) > 2 * mean_downloader(one)
    # What that buys in time is measured by `speedlab figure12` (docs/speedlab.md), not here: a
    # wall-time comparison of 4-second crawls fails whenever another process takes the cores.


@pytest.mark.parametrize(
    ("settings", "order", "priority"),
    [
        ({}, ["index", "detail", "detail"], 0),
        ({"SPEED_INDEX_RULE_LAST": True}, ["detail", "detail", "index"], 0),
        ({"SPEED_INDEX_HIGHER_PRIORITY": True}, ["index", "detail", "detail"], 1),
    ],
)
def test_index_links_order_and_priority(
    settings: dict[str, bool], order: list[str], priority: int
) -> None:
    spider = SpeedSpider.from_crawler(get_crawler(SpeedSpider, settings))
    body = (
        b'<ul><li><a class="item" href="detail?id0=1">1</a></li>'
        b'<li><a class="item" href="detail?id0=2">2</a></li></ul>'
        b'<a class="nav" href="index?p=2">next</a>'
    )
    page = HtmlResponse("http://127.0.0.1:1/benchmark/index?p=1", body=body)
    requests = list(spider.parse_index(page))
    assert [r.url.split("/")[-1].split("?")[0] for r in requests] == order
    assert [r.priority for r in requests if "index" in r.url] == [priority]


def test_unknown_start_style_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="SPEED_START_REQUESTS_STYLE"):
        SpeedSpider.from_crawler(get_crawler(SpeedSpider, {"SPEED_START_REQUESTS_STYLE": "Fast"}))


def test_a_case_runs_its_variants_beside_the_book_and_the_model(site: str, tmp_path: Path) -> None:
    sweep = Case(
        "tiny sweep",
        "book settings",
        "symptom",
        ("time", "peak d/load"),
        tuple(
            Variant(f"CI {ci}", {**FAST, "SPEED_TOTAL_ITEMS": 20, "CONCURRENT_ITEMS": ci}, "book")
            for ci in (1, 2, 4)
        ),
        sweep="CONCURRENT_ITEMS",
    )
    report = run_case("tiny", sweep, site, tmp_path, IDLE_FIT, start_stop=5.0)
    assert [r["variant"] for r in report["rows"]] == ["CI 1", "CI 2", "CI 4"]
    for row in report["rows"]:
        assert row["items"] == 20 and row["returncode"] == 0
        shown, _, rest = row["ours"].removeprefix("time ").partition(" s, peak d/load ")
        assert rest and abs(float(shown) - row["wall"]) <= 0.051, row["ours"]  # wall: 2 decimals
        # 20 pages at CR 16 answered at once: the model is t_start/stop plus 2 x t_overhead.
        assert row["model"] == pytest.approx(2.9 + 0.0015 * 20 / 16, abs=0.01)
        assert row["model_now"] == pytest.approx(row["model"] + 5.0 - 2.9, abs=0.01)
        assert row["settings"]["CONCURRENT_REQUESTS"] == "16"  # the book's, not the project's 32
    assert json.loads((tmp_path / "tiny.json").read_text()) == report
    assert (tmp_path / "tiny_bathtub.png").stat().st_size > 0
    assert isinstance(report["bathtub"], bool)
