"""What the site saw, for tests that measure the crawler from the site's side.

`GET /_site/stats` answers JSON: `requests` (every request since the site started, `/_site/`
excepted), `in_flight` (being answered now) and `max_in_flight` (the most at once, a hung or
slow request counted until its answer is sent), and `faults`: requests failed on purpose, by
fault rule name (`scrapyfleet.demosite.faults`; empty without a plan). A page is answered without
a pause at `--latency 0`, so requests overlap only with a latency: measure concurrency with one.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from scrapyfleet.demosite.faults import FAULTS, OWN_PAGES, Handler

PATH = OWN_PAGES + "stats"


@dataclass(slots=True)
class SiteStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


STATS = web.AppKey("stats", SiteStats)


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request and how many are in flight with it."""
    if request.path.startswith(OWN_PAGES):
        return await handler(request)
    stats = request.app[STATS]
    stats.requests += 1
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        return await handler(request)
    finally:
        stats.in_flight -= 1


async def serve_stats(request: web.Request) -> web.Response:
    stats = request.app[STATS]
    plan = request.app.get(FAULTS)
    return web.json_response(
        {
            "requests": stats.requests,
            "in_flight": stats.in_flight,
            "max_in_flight": stats.max_in_flight,
            "faults": dict(plan.failed) if plan is not None else {},
        }
    )


def add_stats(app: web.Application) -> None:
    """Count what `app` is asked, outside every other middleware, and serve the counts."""
    app[STATS] = SiteStats()
    app.middlewares.insert(0, count_requests)
    app.router.add_get(PATH, serve_stats)
