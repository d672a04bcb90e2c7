"""A worker's calls to the master's batch endpoint, each retried with backoff on connection errors
and 5xx (a 503, the master busy at its connection caps, for BUSY_PATIENCE seconds: a busy
master must not cost the node its batch); a 4xx (403 forged, 409 stale, 400 malformed) is raised
at once. An answer is read within bounds (`core.httpread.MAX_ANSWER` bytes,
`core.safejson.MAX_DEPTH` levels, finite numbers): beyond them, ValueError.
docs/architecture.md, "Batch endpoint"."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import aiohttp
import structlog

from scrapyfleet.core import safejson
from scrapyfleet.core.httpread import read_capped
from scrapyfleet.core.waits import Backoff
from scrapyfleet.crawler.defaults import DEFAULTS

log = structlog.get_logger("scrapyfleet.crawler.worker")

TRIES = 5
RETRY = Backoff(first=0.5, cap=4.0)  # seconds between tries: 0.5, 1, 2, 4, then 4
# Seconds a call keeps trying while the master answers 503: within the default lease timeout,
# past which the master gives the attempt's batch to another job anyway.
BUSY_PATIENCE = 0.75 * DEFAULTS["DISTRIBUTED_LEASE_TIMEOUT"]
CALL_TIMEOUT = 30.0  # seconds per call (a `next` call waits up to leases.LEASE_WAIT)


class MasterClient:
    """Calls `<master>/batches/...` bearing one attempt's credential (or a job's proof), over one
    aiohttp session for the client's life (opened at the first call; `close` ends it)."""

    def __init__(self, master: str, ca_file: str | None) -> None:
        self.base = master.rstrip("/") + "/batches/"
        self.tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ConnectionError("the master client is closed (the spider closed)")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT))
        return self._session

    async def close(self) -> None:
        """End the session; a later call raises ConnectionError."""
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def call(
        self, method: str, batch: str, route: str, credential: str | None, **kwargs: Any
    ) -> Any:
        """`method` on `batches/<batch><route>` bearing `credential` (None: none, a claim);
        the JSON answer."""
        url = self.base + batch + route
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        busy_until = time.monotonic() + BUSY_PATIENCE
        attempt = 0
        while True:
            attempt, busy = attempt + 1, False
            try:
                async with self._http().request(
                    method, url, headers=headers, ssl=self.tls or True, **kwargs
                ) as resp:
                    if resp.status < 500:
                        resp.raise_for_status()
                        return safejson.loads(await read_capped(resp))
                    reason, busy = f"HTTP {resp.status}", resp.status == 503
            except aiohttp.ClientResponseError:
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            log.warning("master_call_failed", method=method, url=url, attempt=attempt,
                        reason=reason)  # fmt: skip
            if attempt >= TRIES and not (busy and time.monotonic() < busy_until):
                raise ConnectionError(reason)
            await asyncio.sleep(RETRY.delay(attempt))
