"""The benchmark site served for real: a speed-spider-style crawl, knobs, delays, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin

import aiohttp
import pytest
from scrapy import Selector

from scrapyfleet.demosite.catalog import Catalog

Serve = Callable[..., Awaitable[str]]  # the `serve` fixture: (catalog, latency) -> base URL


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def test_crawl_like_the_speed_spider_finds_every_item(
    serve: Serve, http: aiohttp.ClientSession
) -> None:
    base = await serve(Catalog(30))
    start = base + "/ti:45/dp:7/id:2/ip:1/rr:0/benchmark/index?p=1"
    seen_index: set[str] = set()
    detail_urls: set[str] = set()
    queue = [start]
    while queue:
        url = queue.pop()
        if url in seen_index:
            continue
        seen_index.add(url)
        status, body = await fetch(http, url)
        assert status == 200
        sel = Selector(text=body)
        detail_urls.update(urljoin(url, h) for h in sel.xpath('//*[@class="item"]/@href').getall())
        queue += [urljoin(url, h) for h in sel.xpath('//*[@class="nav"]/@href').getall()]
    assert len(seen_index) == 4  # ceil(45 / (7 x 2))
    assert all("/ti:45/dp:7/id:2/ip:1/rr:0/benchmark/detail?id0=" in u for u in detail_urls)

    ids = []
    for url in sorted(detail_urls):
        status, body = await fetch(http, url)
        assert status == 200
        for li in Selector(text=body).xpath("//li"):
            ids.append(int(li.xpath(".//h3/text()").get("").split()[1]))
            assert (
                li.xpath('.//div[@class="info"]/text()').get() == f"useful info for id: {ids[-1]}"
            )
    assert sorted(ids) == list(range(1, 46))


async def test_pointahead_and_padding_knobs(serve: Serve, http: aiohttp.ClientSession) -> None:
    base = await serve(Catalog(30))
    _, body = await fetch(http, base + "/ti:100/dp:10/ip:3/rr:0/benchmark/index?p=8")
    assert Selector(text=body).xpath('//*[@class="nav"]/@href').getall() == [
        "index?p=9",
        "index?p=10",
    ]
    _, plain = await fetch(http, base + "/rr:0/benchmark/detail?id0=5")
    _, padded = await fetch(http, base + "/rr:0/ds:5000/benchmark/detail?id0=5")
    assert len(padded) - len(plain) == 5000


async def test_api_translates_get_and_form_post(serve: Serve, http: aiohttp.ClientSession) -> None:
    base = await serve(Catalog(30))
    async with http.get(base + "/ar:0/benchmark/api", params={"text": "hola"}) as response:
        assert await response.json() == {"translation": "api-t-hola"}
    async with http.post(base + "/ar:0/benchmark/api", data={"text": "useful"}) as response:
        assert await response.json() == {"translation": "api-t-useful"}


@pytest.mark.parametrize(
    ("knobs", "endpoint", "delay"),
    [("rr:0.3/", "index?p=1", 0.3), ("ir:0/dr:0.3/", "detail?id0=1", 0.3), ("ar:0.3/", "api", 0.3)],
)
async def test_response_times_are_honoured(
    serve: Serve, http: aiohttp.ClientSession, knobs: str, endpoint: str, delay: float
) -> None:
    base = await serve(Catalog(30))
    url = f"{base}/{knobs}benchmark/{endpoint}"
    started = time.monotonic()
    statuses = await asyncio.gather(*(fetch(http, url) for _ in range(8)))
    elapsed = time.monotonic() - started
    assert [s for s, _ in statuses] == [200] * 8
    assert delay - 0.02 <= elapsed < 8 * delay  # waited, and the waits overlapped


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/zz:1/benchmark/index?p=1", 400),
        ("/ti:lots/benchmark/index?p=1", 400),
        ("/rr:-1/benchmark/detail?id0=1", 400),
        ("/rr:0/benchmark/index?p=two", 400),
        ("/rr:0/benchmark/detail?id0=1.5", 400),
        ("/rr:0/benchmark/detail?id0=" + "9" * 5000, 400),
        ("/rr:0/ti:45/dp:7/id:2/benchmark/index?p=5", 404),
        ("/rr:0/benchmark/index?p=0", 404),
        ("/rr:0/ti:45/benchmark/detail?id0=46", 404),
        ("/rr:0/benchmark/detail?id0=0", 404),
        ("/benchmark/", 404),
        ("/benchmark/nothing", 404),
    ],
)
async def test_bad_input_is_400_or_404_and_the_site_survives(
    serve: Serve, http: aiohttp.ClientSession, path: str, status: int
) -> None:
    base = await serve(Catalog(30))
    got, body = await fetch(http, base + path)
    assert got == status
    if status == 400:
        assert body.count("\n") == 1 and body.endswith("\n") and len(body) < 200
    assert await fetch(http, base + "/health") == (200, "ok")
