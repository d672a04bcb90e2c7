"""What the batch endpoint's routes share: its state and the check of a request's credential.

Every route names a batch and an attempt (`?attempt=N`) and wants that attempt's credential as a
bearer token (`credentials.py`): a wrong one is 403 and changes nothing. docs/architecture.md,
"Batch endpoint".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master.credentials import verify
from scrapyfleet.crawler.master.leases import Leases
from scrapyfleet.crawler.master.ledger import ACTIVE, Batch, Ledger

log = structlog.get_logger("scrapyfleet.crawler.master.endpoint")

OnFetch = Callable[[str, str], None]
OnReport = Callable[[str, WorkerReport], str]  # returns the batch's state


@dataclass(frozen=True, slots=True)
class BatchEndpoint:
    """What the routes need: the ledger, the run secret, the feed destination, the master's
    handlers and its leases (None: jobs take one batch each)."""

    ledger: Ledger
    secret: str
    feed_destination: str
    on_fetch: OnFetch
    on_report: OnReport
    leases: Leases | None = None


ENDPOINT = web.AppKey("endpoint", BatchEndpoint)


def verified(request: web.Request) -> tuple[str, int]:
    """The batch id and attempt whose credential the request bears, or the HTTP error."""
    endpoint = request.app[ENDPOINT]
    batch_id = request.match_info["batch"]
    try:
        attempt = int(request.query["attempt"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="name the attempt: ?attempt=N\n") from None
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not verify(endpoint.secret, batch_id, attempt, credential):
        log.warning("unauthorized", path=request.path, attempt=attempt, peer=request.remote)
        raise web.HTTPForbidden(text="not this attempt's credential\n")
    return batch_id, attempt


def authorize(request: web.Request) -> tuple[Batch, int]:
    """The batch and attempt a request may act on: the batch's current, active attempt (else
    409), or the HTTP error that refuses it."""
    endpoint = request.app[ENDPOINT]
    batch_id, attempt = verified(request)
    try:
        batch = endpoint.ledger.batch(batch_id)
    except KeyError:
        raise web.HTTPNotFound(text=f"no batch {batch_id}\n") from None
    if attempt != batch.attempts or batch.state not in ACTIVE:
        log.warning("stale_attempt", batch=batch_id, attempt=attempt, current=batch.attempts,
                    state=batch.state, peer=request.remote)  # fmt: skip
        raise web.HTTPConflict(text=f"attempt {attempt} of {batch_id} is not current\n")
    return batch, attempt
