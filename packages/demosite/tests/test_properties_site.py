"""The properties site served for real: markup read with Scrapy selectors, a full crawl."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest
from scrapy import Selector

from scrapyfleet.demosite.catalog import Catalog, title_words

Serve = Callable[..., Awaitable[str]]  # the `serve` fixture: (catalog, latency) -> base URL

NEXT = '//*[contains(@class,"next")]//a/@href'
URLS = '//*[@itemprop="url"]/@href'


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


def parse_property(url: str, body: str) -> dict[str, Any]:
    """What a book-style spider extracts from a property page."""
    sel = Selector(text=body)
    price = sel.xpath('//*[@itemprop="price"][1]/text()').re_first(r"[,.0-9]+")
    assert price, "no price"
    return {
        "url": url,
        "title": sel.xpath('//*[@itemprop="name"][1]/text()').get(),
        "price": float(price.replace(",", "")),
        "description": sel.xpath('//*[@itemprop="description"][1]/text()').get(),
        "address": sel.xpath('//*[@itemtype="http://schema.org/Place"][1]/text()').get(),
        "image": urljoin(url, sel.xpath('//*[@itemprop="image"][1]/@src').get()),
    }


async def test_index_page_markup(serve: Serve, http: aiohttp.ClientSession) -> None:
    catalog = Catalog(100, seed=3)
    base = await serve(catalog)
    status, body = await fetch(http, base + "/properties/index_00001.html")
    assert status == 200
    sel = Selector(text=body)
    assert sel.xpath(URLS).getall() == [f"property_{i:06d}.html" for i in range(30, 60)]
    assert sel.xpath(NEXT).getall() == ["index_00002.html"]
    listings = sel.xpath('//li[.//*[@itemprop="url"]]')
    assert len(listings) == 30
    for i, li in enumerate(listings, start=30):
        assert li.xpath('.//*[@itemprop="name"]/text()').get() == catalog.listing(i).title
        assert li.xpath('.//*[@itemprop="price"]/text()').get() == catalog.listing(i).price_text


async def test_property_page_markup(serve: Serve, http: aiohttp.ClientSession) -> None:
    catalog = Catalog(100, seed=3)
    base = await serve(catalog)
    url = base + "/properties/property_000042.html"
    status, body = await fetch(http, url)
    assert status == 200
    assert re.search(r'itemprop="price">£[\d,]+\.\d\dpw<', body)
    assert parse_property(url, body) == catalog.item(42, base)


async def test_crawl_every_page_recovers_items_and_truth(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    catalog = Catalog(95, seed=4)
    base = await serve(catalog)
    url: str | None = base + "/properties/index_00000.html"
    index_urls, property_urls = [], []
    while url:
        status, body = await fetch(http, url)
        assert status == 200
        sel = Selector(text=body)
        index_urls.append(url)
        property_urls += [urljoin(url, href) for href in sel.xpath(URLS).getall()]
        next_href = sel.xpath(NEXT).get()
        url = urljoin(url, next_href) if next_href else None
    assert len(index_urls) == catalog.index_pages == 4
    assert len(property_urls) == len(set(property_urls)) == 95  # last page: 5, and no `next`

    async def item(url: str) -> dict[str, Any]:
        status, body = await fetch(http, url)
        assert status == 200
        return parse_property(url, body)

    items = await asyncio.gather(*(item(u) for u in property_urls))
    assert items == [catalog.item(i, base) for i in range(95)]

    async with http.get(base + "/properties/truth.json") as response:
        truth = await response.json()
    average = sum(x["price"] for x in items) / len(items)
    assert truth["avg_price"] == pytest.approx(average, rel=1e-9)
    for entry in truth["words"]:
        with_word = [x["price"] for x in items if entry["word"] in title_words(x["title"])]
        others = [x["price"] for x in items if entry["word"] not in title_words(x["title"])]
        shift = (sum(with_word) / len(with_word) - sum(others) / len(others)) / average
        assert entry["shift"] == pytest.approx(shift, rel=1e-9, abs=1e-12), entry["word"]
        assert entry["count"] == len(with_word)


async def test_truth_json_serves_the_python_truth(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    catalog = Catalog(300, seed=9)
    base = await serve(catalog)
    async with http.get(base + "/properties/truth.json") as response:
        assert response.status == 200
        body = await response.json()
    assert (body["total"], body["seed"], body["listings"]) == (300, 9, 300)
    assert body["planted"] == catalog.planted_effects()
    shifts = [w["shift"] for w in body["words"]]
    assert shifts == sorted(shifts, reverse=True)
    truth = catalog.truth()
    assert {w["word"]: (w["shift"], w["count"], w["sum"]) for w in body["words"]} == {
        t.word: (t.shift, t.count, t.sum) for t in truth.values()
    }


async def test_same_seed_serves_the_same_bytes(serve: Serve, http: aiohttp.ClientSession) -> None:
    bases = [
        await serve(Catalog(200, seed=5)),
        await serve(Catalog(200, seed=5)),
        await serve(Catalog(200, seed=6)),
    ]
    for path in ("/properties/index_00003.html", "/properties/property_000117.html"):
        bodies = []
        for base in bases:
            async with http.get(base + path) as response:
                bodies.append(await response.read())
        assert bodies[0] == bodies[1] != bodies[2]


@pytest.mark.parametrize(
    "path",
    [
        "/properties/index_00004.html",  # 95 listings: pages 0..3
        "/properties/property_000095.html",
        "/properties/property_95.html",  # not the canonical spelling
        "/properties/index_0000000000000000000000000001.html",
        "/properties/property_-00001.html",
        "/properties/",
        "/nowhere",
    ],
)
async def test_unknown_or_out_of_range_is_404(
    serve: Serve, http: aiohttp.ClientSession, path: str
) -> None:
    base = await serve(Catalog(95))
    status, _ = await fetch(http, base + path)
    assert status == 404
    assert await fetch(http, base + "/health") == (200, "ok")


async def test_latency_is_honoured_for_pages_not_for_health(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    latency = 0.4
    base = await serve(Catalog(100), latency=latency)

    async def timed(path: str) -> float:
        started = time.monotonic()
        status, _ = await fetch(http, base + path)
        assert status == 200
        return time.monotonic() - started

    paths = [Catalog.listing_path(i) for i in range(10)] + [Catalog.index_path(1)]
    started = time.monotonic()
    elapsed = await asyncio.gather(*(timed(p) for p in paths))
    assert min(elapsed) >= latency - 0.02
    # Waits overlap: 11 concurrent pages take far less than 11 x latency.
    assert time.monotonic() - started < 5 * latency
    assert await timed("/health") < latency
