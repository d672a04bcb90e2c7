"""A worker job's side of its leases (`leases.py`): keep the current one alive, take the next.
Each renewal carries the job's word on its sites and brings back the master's orders
(`sitegate.py`). docs/architecture.md, "Batch endpoint" and "Site health and the domain budget".
"""

from __future__ import annotations

import aiohttp
import structlog

from scrapyfleet.crawler.contract import BatchGrant
from scrapyfleet.crawler.sitegate import GateState
from scrapyfleet.crawler.sitewire import SiteOrder, parse_sites
from scrapyfleet.crawler.worker.batchreport import Lease
from scrapyfleet.crawler.worker.masterclient import MasterClient

log = structlog.get_logger("scrapyfleet.crawler.worker")

CALL_ERRORS = (ConnectionError, aiohttp.ClientResponseError, KeyError, TypeError, ValueError)
RENEW_INTERVAL = 1.0  # seconds between renewals at most: the master hears of sites promptly


async def renew(client: MasterClient, lease: Lease, gate: GateState) -> None:
    """Renew `lease` every RENEW_INTERVAL (at most a quarter of the lease timeout), at once when
    the gate has urgent news, until cancelled or refused; obey the sites' orders of each reply."""
    assert lease.timeout
    while True:
        await gate.next_report(min(lease.timeout / 4, RENEW_INTERVAL))
        body = {"sites": {name: counts.to_json() for name, counts in gate.report().items()}}
        try:
            answer = await client.call("POST", lease.batch, "/renew", lease.credential,
                                       params=lease.params, json=body)  # fmt: skip
            gate.obey(parse_sites(answer, SiteOrder))
        except aiohttp.ClientResponseError as exc:
            log.error("lease_lost", batch=lease.batch, status=exc.status)
            return
        except (ConnectionError, ValueError) as exc:
            log.warning("lease_not_renewed", batch=lease.batch, reason=str(exc))


async def next_lease(client: MasterClient, done: Lease, job: str) -> tuple[Lease, str] | None:
    """The job's next lease after `done` and its feed destination, or None when the master has
    no more work for it (or cannot be asked)."""
    while True:
        try:
            answer = await client.call("POST", done.batch, "/next", done.credential,
                                       params=done.params)  # fmt: skip
            if "lease" in answer:
                got = BatchGrant.from_json(answer["lease"])
                if got.credential is None:
                    raise ValueError("a lease needs its credential")
                lease = Lease(got.batch, got.attempt, got.credential, got.urls, got.lease_timeout,
                              sites=got.sites or {})  # fmt: skip
                return lease, got.feed
        except CALL_ERRORS as exc:
            log.error("next_lease_failed", batch=done.batch, reason=str(exc))
            return None
        if "done" in answer:
            log.info("no_more_batches", job=job, reason=answer["done"])
            return None
