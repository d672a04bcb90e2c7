"""A worker job's side of its leases (`leases.py`): keep the current one alive, take the next.
docs/architecture.md, "Batch endpoint"."""

from __future__ import annotations

import asyncio

import aiohttp
import structlog

from scrapyfleet.crawler.contract import BatchGrant
from scrapyfleet.crawler.worker.batchreport import Lease
from scrapyfleet.crawler.worker.masterclient import MasterClient

log = structlog.get_logger("scrapyfleet.crawler.worker")

CALL_ERRORS = (ConnectionError, aiohttp.ClientResponseError, KeyError, TypeError, ValueError)


async def renew(client: MasterClient, lease: Lease) -> None:
    """Renew `lease` four times per lease timeout until cancelled or refused."""
    assert lease.timeout
    while True:
        await asyncio.sleep(lease.timeout / 4)
        try:
            await client.call("POST", lease.batch, "/renew", lease.credential, params=lease.params)
        except aiohttp.ClientResponseError as exc:
            log.error("lease_lost", batch=lease.batch, status=exc.status)
            return
        except ConnectionError as exc:
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
                lease = Lease(got.batch, got.attempt, got.credential, got.urls, got.lease_timeout)
                return lease, got.feed
        except CALL_ERRORS as exc:
            log.error("next_lease_failed", batch=done.batch, reason=str(exc))
            return None
        if "done" in answer:
            log.info("no_more_batches", job=job, reason=answer["done"])
            return None
