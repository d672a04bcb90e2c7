"""What the batch endpoint's routes share: its state and the checks of a request.

Every route names a batch and an attempt (`?attempt=N`). A job's first fetch of its attempt
(`claimed`) also names its scrapyd job (`&job=J`) and bears the job's proof (`jobproof.py`),
or, from a node without auth, claims the attempt once; it is answered with the attempt's own
credential (`credentials.py`), which every later call bears (`verified`). A wrong proof or
credential is 403, an attempt that is not the batch's current, active one (or was claimed
already) 409; neither changes anything. docs/architecture.md, "Batch endpoint" and "Secrets".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.jobproof import is_proof
from scrapyfleet.crawler.master.credentials import verify
from scrapyfleet.crawler.master.leases import Leases
from scrapyfleet.crawler.master.ledger import ACTIVE, Batch, Ledger
from scrapyfleet.crawler.master.sites import Sites

log = structlog.get_logger("scrapyfleet.crawler.master.endpoint")

OnFetch = Callable[[str, str], None]
OnReport = Callable[[str, WorkerReport], str]  # returns the batch's state
OnRefused = Callable[[str, int, str], None]  # batch, attempt, why its claim was refused

NO_PROOF = (
    "its job bore no proof: the node's scrapyd has no SCRAPYD_PASSWORD in its environment "
    "(a password only in scrapyd.conf never reaches its jobs; docs/deployment.md)"
)
WRONG_PROOF = (
    "its job's proof did not match: the node's SCRAPYD_PASSWORD is not the password "
    "of its deploy target"
)


@dataclass(frozen=True, slots=True)
class BatchEndpoint:
    """What the routes need: the ledger, the run secret, the feed destination, the master's
        handlers, its leases (None: jobs take one batch each), the scrapyd password of each node
        that has one (node name -> password: its jobs' proofs) and who hears why a job's claim was
        refused for its proof (`on_refused`: the likely cause if that job ends without a report) and
    the master's word on sites (`sites`)."""

    ledger: Ledger
    secret: str
    feed_destination: str
    on_fetch: OnFetch
    on_report: OnReport
    leases: Leases | None = None
    node_passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    on_refused: OnRefused | None = None
    claimed: set[tuple[str, int]] = field(default_factory=set)  # attempts fetched by a claim
    sites: Sites | None = None  # site health and the domain budget (None: no orders)


ENDPOINT = web.AppKey("endpoint", BatchEndpoint)


def _attempt(request: web.Request) -> int:
    try:
        return int(request.query["attempt"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="name the attempt: ?attempt=N\n") from None


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme == "Bearer" else ""


def _forbidden(request: web.Request, attempt: int) -> web.HTTPForbidden:
    log.warning("unauthorized", path=request.path, attempt=attempt, peer=request.remote)
    return web.HTTPForbidden(text="not this attempt's credential\n")


def verified(request: web.Request) -> tuple[str, int]:
    """The batch id and attempt whose credential the request bears, or the HTTP error."""
    endpoint = request.app[ENDPOINT]
    batch_id, attempt = request.match_info["batch"], _attempt(request)
    if not verify(endpoint.secret, batch_id, attempt, _bearer(request)):
        raise _forbidden(request, attempt)
    return batch_id, attempt


def current(request: web.Request, batch_id: str, attempt: int) -> Batch:
    """The batch, if `attempt` is its current, active one (else 409; 404: no such batch)."""
    try:
        batch = request.app[ENDPOINT].ledger.batch(batch_id)
    except KeyError:
        raise web.HTTPNotFound(text=f"no batch {batch_id}\n") from None
    if attempt != batch.attempts or batch.state not in ACTIVE:
        log.warning("stale_attempt", batch=batch_id, attempt=attempt, current=batch.attempts,
                    state=batch.state, peer=request.remote)  # fmt: skip
        raise web.HTTPConflict(text=f"attempt {attempt} of {batch_id} is not current\n")
    return batch


def authorize(request: web.Request) -> tuple[Batch, int]:
    """The batch and attempt a request bearing the attempt's credential may act on."""
    batch_id, attempt = verified(request)
    return current(request, batch_id, attempt), attempt


def claimed(request: web.Request) -> tuple[Batch, int]:
    """The batch and attempt a job's first fetch claims, or the HTTP error that refuses it."""
    endpoint = request.app[ENDPOINT]
    attempt = _attempt(request)
    batch = current(request, request.match_info["batch"], attempt)
    job = request.query.get("job", "")
    password = endpoint.node_passwords.get(batch.node or "")
    if password is not None:
        proof = _bearer(request)
        if job != batch.job or not is_proof(password, batch.id, attempt, job, proof):
            if job == batch.job and endpoint.on_refused is not None:
                endpoint.on_refused(batch.id, attempt, WRONG_PROOF if proof else NO_PROOF)
            raise _forbidden(request, attempt)
    elif job != batch.job or (batch.id, attempt) in endpoint.claimed:
        log.warning("claim_refused", batch=batch.id, attempt=attempt, job=job,
                    peer=request.remote)  # fmt: skip
        raise web.HTTPConflict(text=f"attempt {attempt} of {batch.id} is claimed already\n")
    else:
        endpoint.claimed.add((batch.id, attempt))
    return batch, attempt
