"""The benchmark site (the book's chapter-10 "speed" server): index, detail and api endpoints.

Markup as the book's speed spider expects: `a.item` detail links and `a.nav` next-index links
on index pages, `li > h3 "I'm N"` and `div.info` per item on detail pages.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from scrapyfleet.demosite.knobs import KnobError, Knobs, parse_knobs, shown

ROUTE_PREFIX = r"/{knobs:(?:[^/]+/)*}benchmark/"
PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head><body>{}</body></html>\n'
)
DETAIL_LINK = '<li><a class="item" href="detail?id0={id0}">item {label}</a></li>'
NAV_LINK = '<a class="nav" href="index?p={page}">next</a> '
DETAIL_ITEM = '<li><h3>I\'m {id}</h3><div class="info">useful info for id: {id}</div></li>'


def add_routes(app: web.Application) -> None:
    """Serve the benchmark endpoints under `/[knob:value/...]benchmark/`."""
    app.router.add_get(ROUTE_PREFIX + "index", index)
    app.router.add_get(ROUTE_PREFIX + "detail", detail)
    app.router.add_get(ROUTE_PREFIX + "api", api)
    app.router.add_post(ROUTE_PREFIX + "api", api)


async def index(request: web.Request) -> web.Response:
    """Index page `p` (from 1): `dp` detail links and up to `ip` next-index links."""
    knobs = _knobs(request)
    page = _int_param(request, "p")
    if not 1 <= page <= knobs.index_pages:
        raise web.HTTPNotFound(text=f"no index page {page} (pages 1..{knobs.index_pages})\n")
    per_detail = knobs.items_per_detail
    first = (page - 1) * knobs.details_per_index * per_detail + 1
    last_id = min(first + knobs.details_per_index * per_detail, knobs.total_items + 1)
    links = "".join(
        DETAIL_LINK.format(id0=id0, label=_label(id0, min(id0 + per_detail - 1, knobs.total_items)))
        for id0 in range(first, last_id, per_detail)
    )
    last_nav = min(page + knobs.index_pointahead, knobs.index_pages)
    navs = "".join(NAV_LINK.format(page=p) for p in range(page + 1, last_nav + 1))
    await _wait(knobs.index_delay)
    return _html(f"<ul>{links}</ul>{navs}")


async def detail(request: web.Request) -> web.Response:
    """Detail page of items `id0` .. `id0 + id - 1`, padded with `ds` bytes."""
    knobs = _knobs(request)
    id0 = _int_param(request, "id0")
    if not 1 <= id0 <= knobs.total_items:
        raise web.HTTPNotFound(text=f"no item {id0} (items 1..{knobs.total_items})\n")
    last = min(id0 + knobs.items_per_detail, knobs.total_items + 1)
    items = "".join(DETAIL_ITEM.format(id=i) for i in range(id0, last))
    await _wait(knobs.detail_delay)
    return _html(f"<ul>{items}</ul><!--{'i' * knobs.detail_extra_size}-->")


async def api(request: web.Request) -> web.Response:
    """The slow "translation" API: `{"translation": "api-t-<text>"}` (GET or form POST)."""
    knobs = _knobs(request)
    text = request.query.get("text")
    if text is None and request.method == "POST":
        text = str((await request.post()).get("text", ""))
    await _wait(knobs.api_delay)
    return web.json_response({"translation": f"api-t-{text or ''}"})


def _knobs(request: web.Request) -> Knobs:
    try:
        return parse_knobs(request.match_info["knobs"])
    except KnobError as e:
        raise web.HTTPBadRequest(text=f"{e}\n") from None


def _int_param(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "1")
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"parameter {shown(name)} needs an integer, got {shown(raw)}\n"
        ) from None


def _label(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


async def _wait(delay: float) -> None:
    if delay > 0:
        await asyncio.sleep(delay)


def _html(body: str) -> web.Response:
    return web.Response(text=PAGE.format(body), content_type="text/html")
