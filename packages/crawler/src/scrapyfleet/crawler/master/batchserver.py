"""The master's HTTP endpoint for workers: fetch a batch attempt's URLs, report its outcome (and,
in `leaseroutes.py`, renew a lease and take the next one).

Every route names the attempt (`?attempt=N`). The fetch is a job's claim of its attempt, with
its job proof (`endpoint.claimed`); it answers the URLs, the feed destination (with its password:
it never goes on a command line) and the attempt's credential, which every other route wants as
a bearer token (`endpoint.authorize`): a wrong one is 403, an attempt that is not the batch's
current, active one is 409, and neither changes anything; a malformed report is 400. The
payloads come from the ledger, so they survive a master restart. `serve` starts it.
docs/architecture.md, "Batch endpoint".
"""

from __future__ import annotations

import ssl

import structlog
from aiohttp import web

from scrapyfleet.core import httpguard, safejson
from scrapyfleet.crawler.contract import BatchGrant, WorkerReport
from scrapyfleet.crawler.master.credentials import attempt_credential
from scrapyfleet.crawler.master.endpoint import ENDPOINT, BatchEndpoint, authorize, claimed
from scrapyfleet.crawler.master.leaseroutes import next_lease, renew

__all__ = ["BatchEndpoint", "make_app", "serve"]

log = structlog.get_logger("scrapyfleet.crawler.master.batchserver")

REPORT_MAX_BYTES = 16 * 1024**2  # a report names every URL of its batch that did not land
# Served like the console (slow clients cut, connections capped: core.httpguard), with room for
# every job of a node host, which all come from that host's one address.
LIMITS = httpguard.Limits(per_address=128, total=1024)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def get_batch(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    batch, attempt = claimed(request)
    assert batch.job is not None, "a current attempt has its job"
    endpoint.on_fetch(batch.id, batch.job)
    timeout = endpoint.leases.lease_timeout if endpoint.leases else None
    payload = endpoint.ledger.payload(batch.id)
    credential = attempt_credential(endpoint.secret, batch.id, attempt)
    sites = None
    if endpoint.sites is not None:
        sites = endpoint.sites.grant(
            batch.job, payload, endpoint.ledger.urls.retried_only(batch.id)
        )
    grant = BatchGrant(batch.id, attempt, payload, endpoint.feed_destination, timeout, credential,
                       sites)  # fmt: skip
    return web.json_response(grant.to_json())


async def post_report(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    batch, attempt = authorize(request)
    try:
        # Within the body cap (REPORT_MAX_BYTES) and safejson's depth; JSONRefused is a ValueError.
        report = WorkerReport.from_json(safejson.loads(await request.read()))
    except ValueError as exc:
        log.warning("report_rejected", batch=batch.id, reason=str(exc))
        raise web.HTTPBadRequest(text=f"malformed report: {exc}\n") from None
    if report.attempt != attempt or report.job != batch.job:
        log.warning("report_rejected", batch=batch.id, reason="another attempt's report")
        raise web.HTTPConflict(text="the report is not of this attempt\n")
    state = endpoint.on_report(batch.id, report)
    return web.json_response({"batch": batch.id, "state": state})


def make_app(endpoint: BatchEndpoint) -> web.Application:
    """The aiohttp application serving workers, behind its guard (LIMITS)."""
    app = web.Application(client_max_size=REPORT_MAX_BYTES)
    httpguard.install(app, "batch endpoint", LIMITS)
    app[ENDPOINT] = endpoint
    app.router.add_get("/health", health)
    app.router.add_get("/batches/{batch}", get_batch)
    app.router.add_post("/batches/{batch}/report", post_report)
    app.router.add_post("/batches/{batch}/renew", renew)
    app.router.add_post("/batches/{batch}/next", next_lease)
    return app


async def serve(
    endpoint: BatchEndpoint, host: str, port: int, tls: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, str, int]:
    """Serve on host:port (over TLS with `tls`), or on any free port if that one is taken (a
    resumed run's old port: workers of old attempts retry, then fail); the runner, the bound
    host and port."""
    try:
        runner = await httpguard.serve(make_app(endpoint), host, port, tls, access_log=None)
    except OSError:
        runner = await httpguard.serve(make_app(endpoint), host, 0, tls, access_log=None)
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, str(bound_host), int(bound_port)
