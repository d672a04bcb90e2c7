"""The batch endpoint's lease routes: a job renews its lease, and asks for its next batch.

`POST /batches/{id}/renew?attempt=N`: the job still works on its lease (409 once it expired or
went elsewhere); its body, `{"sites": {DOMAIN: counts}}`, says how each site answered the job since
its last renewal, and the answer carries the master's orders for them (`sitewire.py`, `sites.py`;
400 if malformed). `POST /batches/{id}/next?attempt=N`, with the credential of the job's latest
attempt, after its report: the next lease (`leases.py`), `wait` or `done`. docs/architecture.md,
"Batch endpoint".
"""

from __future__ import annotations

from aiohttp import web

from scrapyfleet.core import safejson
from scrapyfleet.crawler.master.endpoint import ENDPOINT, authorize, log, verified
from scrapyfleet.crawler.sitewire import SiteCounts, parse_sites


async def renew(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    batch, attempt = authorize(request)
    try:
        body = await request.read()
        counts = parse_sites(safejson.loads(body) if body else None, SiteCounts)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"malformed renewal: {exc}\n") from None
    if endpoint.leases is not None:
        endpoint.leases.heard(batch.id)
    timeout = endpoint.leases.lease_timeout if endpoint.leases is not None else None
    answer = {"batch": batch.id, "attempt": attempt, "lease_timeout": timeout}
    if endpoint.sites is not None and batch.job is not None:
        orders = endpoint.sites.exchange(batch.job, counts)
        answer["sites"] = {name: order.to_json() for name, order in orders.items()}
    return web.json_response(answer)


async def next_lease(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    if endpoint.leases is None:
        raise web.HTTPNotFound(text="this master gives one batch per job\n")
    batch_id, attempt = verified(request)
    holder = endpoint.ledger.holder(batch_id, attempt)
    if holder is None:
        raise web.HTTPConflict(text=f"attempt {attempt} of {batch_id} was never given\n")
    job, node, outcome = holder
    if endpoint.ledger.latest_lease(job) != (batch_id, attempt):
        raise web.HTTPConflict(text=f"attempt {attempt} of {batch_id} is not {job}'s latest\n")
    if outcome is None:
        raise web.HTTPConflict(text="report the lease before asking for the next one\n")
    if outcome != "done":
        log.info("lease_chain_ended", job=job, batch=batch_id, outcome=outcome)
        return web.json_response({"done": f"the job's last lease {outcome}"})
    answer = await endpoint.leases.next(job, node, endpoint.secret, endpoint.feed_destination)
    if "lease" in answer:  # given with its credential: no fetch may claim it
        lease = answer["lease"]
        endpoint.claimed.add((lease["batch"], lease["attempt"]))
        if endpoint.sites is not None:  # the job starts within its share
            retried = endpoint.ledger.urls.retried_only(lease["batch"])
            orders = endpoint.sites.grant(job, lease["urls"], retried)
            lease["sites"] = {name: order.to_json() for name, order in orders.items()}
    return web.json_response(answer)
