"""The master's HTTP endpoint for workers: fetch a batch's URLs, report its outcome.

Both routes want the run's bearer token (401 otherwise); a malformed report is 400 and changes
nothing. The payloads come from the ledger, so they survive a master restart. `serve` starts it.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from scrapyfleet.crawler.ledger import Ledger
from scrapyfleet.crawler.reports import WorkerReport

log = structlog.get_logger("scrapyfleet.crawler.batchserver")

OnFetch = Callable[[str, str], None]
OnReport = Callable[[str, WorkerReport], str]  # returns the batch's state


@dataclass(frozen=True, slots=True)
class BatchEndpoint:
    """What the routes need: the ledger, the token and the master's handlers."""

    ledger: Ledger
    token: str
    on_fetch: OnFetch
    on_report: OnReport


ENDPOINT = web.AppKey("endpoint", BatchEndpoint)


@web.middleware
async def require_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path == "/health":
        return await handler(request)
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {request.app[ENDPOINT].token}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("unauthorized", path=request.path, peer=request.remote)
        raise web.HTTPUnauthorized(text="missing or wrong bearer token\n")
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def get_batch(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    batch_id = request.match_info["batch"]
    try:
        batch = endpoint.ledger.batch(batch_id)
        urls = endpoint.ledger.urls(batch_id)
    except KeyError:
        raise web.HTTPNotFound(text=f"no batch {batch_id}\n") from None
    job = request.query.get("job", "")
    if job:
        endpoint.on_fetch(batch_id, job)
    return web.json_response({"batch": batch_id, "attempt": batch.attempts, "urls": urls})


async def post_report(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    batch_id = request.match_info["batch"]
    try:
        endpoint.ledger.batch(batch_id)
    except KeyError:
        raise web.HTTPNotFound(text=f"no batch {batch_id}\n") from None
    try:
        report = WorkerReport.from_json(json.loads(await request.read()))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        log.warning("report_rejected", batch=batch_id, reason=str(exc))
        raise web.HTTPBadRequest(text=f"malformed report: {exc}\n") from None
    state = endpoint.on_report(batch_id, report)
    return web.json_response({"batch": batch_id, "state": state})


def make_app(endpoint: BatchEndpoint) -> web.Application:
    """The aiohttp application serving workers."""
    app = web.Application(middlewares=[require_token], client_max_size=1024**2)
    app[ENDPOINT] = endpoint
    app.router.add_get("/health", health)
    app.router.add_get("/batches/{batch}", get_batch)
    app.router.add_post("/batches/{batch}/report", post_report)
    return app


async def serve(endpoint: BatchEndpoint, host: str, port: int) -> tuple[web.AppRunner, str, int]:
    """Serve on host:port, or on any free port if that one is taken (a resumed run's old port:
    workers of old attempts retry, then fail); the runner, the bound host and port."""
    runner = web.AppRunner(make_app(endpoint), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await web.TCPSite(runner, host, 0).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, str(bound_host), int(bound_port)
