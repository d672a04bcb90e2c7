"""The demo site's aiohttp application: properties pages, ground truth, benchmark pages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from scrapyfleet.demosite import benchmark
from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.faults import add_faults
from scrapyfleet.demosite.pages import index_page, property_page
from scrapyfleet.demosite.stats import add_stats

CATALOG = web.AppKey("catalog", Catalog)
LATENCY = web.AppKey("latency", float)

HOME_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>scrapyfleet demo site</title></head><body>
<ul><li><a href="/properties/index_00000.html">Properties</a></li>
<li><a href="/properties/truth.json">Ground truth</a></li>
<li><a href="/benchmark/index?p=1">Benchmark site</a></li></ul>
</body></html>
"""


def make_app(catalog: Catalog, latency: float, faults: Path | None = None) -> web.Application:
    """The site serving `catalog`, each properties page delayed by `latency` seconds, failing
    as the fault plan file `faults` says (see `faults.py`), counting what it is asked
    (`stats.py`)."""
    if latency < 0:
        raise ValueError(f"latency must be >= 0, got {latency}")
    app = web.Application()
    if faults is not None:
        add_faults(app, faults)
    add_stats(app)
    app[CATALOG] = catalog
    app[LATENCY] = latency
    app.router.add_get("/", home)
    app.router.add_get("/health", health)
    app.router.add_get(r"/properties/index_{page:\d{5,9}}.html", properties_index)
    app.router.add_get(r"/properties/property_{index:\d{6,10}}.html", properties_detail)
    app.router.add_get("/properties/truth.json", truth)
    benchmark.add_routes(app)
    return app


async def home(request: web.Request) -> web.Response:
    return web.Response(text=HOME_PAGE, content_type="text/html")


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def properties_index(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    page = _number(request, "page", catalog.index_path)
    if page >= catalog.index_pages:
        raise web.HTTPNotFound(text=f"no index page {page} (pages 0..{catalog.index_pages - 1})\n")
    await _wait(request)
    return web.Response(text=index_page(catalog, page), content_type="text/html")


async def properties_detail(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    i = _number(request, "index", catalog.listing_path)
    if i >= catalog.total:
        raise web.HTTPNotFound(text=f"no property {i} (properties 0..{catalog.total - 1})\n")
    await _wait(request)
    return web.Response(text=property_page(catalog.listing(i)), content_type="text/html")


async def truth(request: web.Request) -> web.Response:
    """Planted effects and the exact shift of every word, sorted by shift descending."""
    catalog = request.app[CATALOG]
    words = await asyncio.get_running_loop().run_in_executor(None, catalog.truth)
    body: dict[str, Any] = {
        "total": catalog.total,
        "seed": catalog.seed,
        "listings": catalog.total,
        "avg_price": catalog.average_price,
        "planted": catalog.planted_effects(),
        "words": [
            {"word": t.word, "shift": t.shift, "count": t.count, "sum": t.sum}
            for t in sorted(words.values(), key=lambda t: (-t.shift, t.word))
        ],
    }
    return web.json_response(body)


def _number(request: web.Request, key: str, canonical: Callable[[int], str]) -> int:
    """The page/listing number of a path, 404 unless the path is spelled canonically."""
    number = int(request.match_info[key])
    if request.path != canonical(number):
        raise web.HTTPNotFound(text=f"no such page {request.path!r}\n")
    return number


async def _wait(request: web.Request) -> None:
    latency = request.app[LATENCY]
    if latency > 0:
        await asyncio.sleep(latency)
