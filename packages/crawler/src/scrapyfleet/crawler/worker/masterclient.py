"""A worker's calls to the master's batch endpoint, each retried with backoff on connection errors
and 5xx; a 4xx (403 forged, 409 stale, 400 malformed) is raised at once. docs/architecture.md,
"Batch endpoint"."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger("scrapyfleet.crawler.worker")

TRIES = 5
CALL_TIMEOUT = 30.0  # seconds per call (a `next` call waits up to leases.LEASE_WAIT)


class MasterClient:
    """Calls `<master>/batches/...` with one attempt's credential."""

    def __init__(self, master: str, ca_file: str | None) -> None:
        self.base = master.rstrip("/") + "/batches/"
        self.tls = ssl.create_default_context(cafile=ca_file) if ca_file else None

    async def call(
        self, method: str, batch: str, route: str, credential: str, **kwargs: Any
    ) -> Any:
        """`method` on `batches/<batch><route>`; the JSON answer."""
        url = self.base + batch + route
        headers = {"Authorization": f"Bearer {credential}"}
        delay = 0.5
        for attempt in range(1, TRIES + 1):
            try:
                async with (
                    aiohttp.ClientSession(
                        timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT)
                    ) as session,
                    session.request(
                        method, url, headers=headers, ssl=self.tls or True, **kwargs
                    ) as resp,
                ):
                    if resp.status < 500:
                        resp.raise_for_status()
                        return await resp.json()
                    reason = f"HTTP {resp.status}"
            except aiohttp.ClientResponseError:
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("master_call_failed", method=method, url=url, attempt=attempt,
                        reason=reason)  # fmt: skip
            if attempt < TRIES:
                await asyncio.sleep(delay)
                delay *= 2
        raise ConnectionError(reason)
