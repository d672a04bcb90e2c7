"""The master's dispatcher, as one object: batches from the ledger onto scrapyd nodes until done.

A façade over the pieces, each with one concern: the batch endpoint workers call
(`batchserver.py`, `leaseroutes.py`), a node's health (`nodes.py`) and the polling of all
(`nodepool.py`), the dispatch loop (`dispatch.py`), placing and scheduling (`scheduling.py`,
`placement.py`), the end of attempts (`attempts.py`), the leases of jobs that keep their process
(`leases.py`) and the rules they apply (`rules.py`). The ledger is the one source of truth; see
docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import ssl
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from scrapyfleet.crawler.contract import SCHEME, WorkerReport, split_feed_uri
from scrapyfleet.crawler.master.batchserver import BatchEndpoint, serve
from scrapyfleet.crawler.master.credentials import new_secret
from scrapyfleet.crawler.master.dispatch import Dispatcher
from scrapyfleet.crawler.master.fleetconfig import FleetConfig, RunOutcome
from scrapyfleet.crawler.master.landing import KEY_ENV
from scrapyfleet.crawler.master.ledger import Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.master.sites import Sites
from scrapyfleet.crawler.sitegate import GateState

__all__ = ["Fleet", "FleetConfig", "RunOutcome"]

log = structlog.get_logger("scrapyfleet.crawler.master.fleet")

# What a ledger or file write raises when the run directory cannot take it (disk full, gone).
UNWRITABLE = (sqlite3.OperationalError, OSError)


class Fleet:
    """Owns the ledger's batches while the run lasts: serves, places, tracks and retries them."""

    def __init__(self, config: FleetConfig, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.run_id = ledger.get_meta("run_id") or secrets.token_hex(4)
        # Per-attempt credentials derive from the secret; it never leaves this process.
        self._secret = ledger.get_meta("secret") or new_secret()
        ledger.set_meta("run_id", self.run_id)
        ledger.set_meta("secret", self._secret)
        self._feed_destination, self._feed_name = split_feed_uri(config.feed_uri)
        self.outcome = RunOutcome()
        self.on_tick: list[Callable[[dict[str, Any]], None]] = []  # each gets every snapshot
        self.master_url = ""
        self.unwritable = False  # the run directory took no more: the run ends (`cannot_write`)
        self.sites: Sites | None = None  # site health and the domain budget (`sites.py`)
        self.master_gate: GateState | None = None  # the master crawl's site gate, told directly
        self._nodes = NodePool(
            config.targets, config.default_slots, config.node_timeout, self.outcome.troubled_nodes
        )
        self._dispatcher = Dispatcher(config, ledger, self._nodes, self.outcome, self.add_batch)
        self._dispatcher.attempts.on_failed = self._attempt_failed
        self._done = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._sites_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve the batch endpoint and start dispatching."""
        self._session = aiohttp.ClientSession()
        self._nodes.connect(self._session, self.config.request_timeout)
        endpoint = BatchEndpoint(
            self.ledger,
            self._secret,
            self._feed_destination,
            self._fetched,
            self._reported,
            self._dispatcher.leases,
            {t.name: t.password for t in self.config.targets if t.password},
            self._dispatcher.attempts.refused,
            sites=self.sites,
        )
        port = self.config.listen_port or int(self.ledger.get_meta("port") or 0)
        tls = None
        if self.config.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(self.config.tls_cert, self.config.tls_key or None)
        self._runner, host, port = await serve(endpoint, self.config.listen_host, port, tls)
        self.ledger.set_meta("port", str(port))
        scheme = "https" if tls else "http"
        self.master_url = self.config.advertise_url or f"{scheme}://{host}:{port}"
        log.info("batch_server_started", url=self.master_url, run_dir=str(self.config.run_dir))
        for target in self.config.targets:
            if not target.password:
                log.warning("node_without_auth", node=target.name, trust="any local user of "
                            "that machine can run code through its scrapyd and race its jobs to "
                            "their batch: keep it on loopback, or give it --user")  # fmt: skip
        if self.config.receipt_key is None:
            log.warning("landings_unconfirmed", reason="no receipt key: a worker's report is "
                        f"taken at its word (set {KEY_ENV} or --receipt-key-file)")  # fmt: skip
        await self._nodes.check(self.config.project)
        self._task = asyncio.create_task(self._run(), name="fleet-dispatch")
        if self.sites is not None and self.master_gate is not None:
            feed = self.sites.feed(self.master_gate, self.config.lease_timeout)
            self._sites_task = asyncio.create_task(feed, name="fleet-sites")

    async def _run(self) -> None:
        try:
            await self._dispatcher.run(self._job_settings, self._tick)
        except UNWRITABLE as exc:
            self.cannot_write(exc)
        finally:
            self._done.set()

    def cannot_write(self, exc: Exception) -> None:
        """The run directory takes no more (e.g. the disk is full): the run ends on a fatal
        error; what the ledger holds stays consistent (a failed write is rolled back), so
        `--resume` continues it once there is room."""
        if not self.unwritable:
            log.error("run_dir_unwritable", run_dir=str(self.config.run_dir), reason=str(exc),
                      resume=f"crawl-master --resume {self.config.run_dir}")  # fmt: skip
        self.unwritable = True
        self.outcome.fatal = self.outcome.fatal or f"run directory unwritable: {exc}"
        self._dispatcher.stop()

    def _fetched(self, batch_id: str, job: str) -> None:
        try:
            self.ledger.running(batch_id, job)
        except UNWRITABLE as exc:
            self.cannot_write(exc)
            raise web.HTTPServiceUnavailable(text="the master cannot record it\n") from None
        self._dispatcher.leases.heard(batch_id)

    def _attempt_failed(self, job: str, reason: str) -> None:
        if self.sites is not None:  # a failed (or dead) job crawls nothing more: shares return
            self.sites.leave(job, reason)

    def _reported(self, batch_id: str, report: WorkerReport) -> str:
        self._dispatcher.leases.heard(batch_id)
        if self.sites is not None:  # its batch is over: its budget shares return
            self.sites.leave(report.job)
        try:
            return self._dispatcher.attempts.reported(batch_id, report)
        except UNWRITABLE as exc:
            self.cannot_write(exc)
            raise web.HTTPServiceUnavailable(text="the master cannot record it\n") from None

    def _job_settings(self, batch_id: str, attempt: int) -> dict[str, str]:
        """The Scrapy settings of one attempt's job: nothing secret (they end up in
        `scrapyd.out`, `ps` and the job's log; the job proves its attempt with `jobproof.py`),
        and a `fleet:` feed whose destination the worker fetches with its batch."""
        return {
            "DISTRIBUTED_MASTER_URL": self.master_url,
            "FEEDS": json.dumps({f"{SCHEME}:{self._feed_name}": {"format": "jsonlines"}}),
            "DISTRIBUTED_MASTER_CA_FILE": self.config.master_ca_file,
            "DISTRIBUTED_KEEP_WORKERS": str(self.config.keep_workers),
            # How the diverted requests are parsed (set with the first one, before any batch).
            "DISTRIBUTED_ROUTE": self.ledger.get_meta("route") or "",
            **self.config.worker_settings,
        }

    def _tick(self) -> None:
        if self.on_tick:
            snap = self.snapshot()
            for listener in self.on_tick:
                listener(snap)

    def close_intake(self) -> None:
        """No more batches will come: the fleet ends once the ledger's batches are settled."""
        self._dispatcher.close_intake()

    async def wait(self) -> RunOutcome:
        await self._done.wait()
        return self.outcome

    async def stop(self) -> None:
        """End after the tick in flight (its schedule calls complete); release the endpoint."""
        self._dispatcher.stop()
        if self._sites_task is not None:
            self._sites_task.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def add_batch(self, urls: list[str], fingerprints: Sequence[bytes] = ()) -> Batch:
        """A new batch: new URLs with their request fingerprints, or retried ones."""
        batch = self.ledger.add_batch(self.run_id, urls, fingerprints)
        log.info("batch_created", batch=batch.id, urls=batch.size)
        self._dispatcher.wake()
        return batch

    def troubled_nodes(self) -> dict[str, str]:
        """What went wrong with which node, for the summary: the record, plus nodes not
        answering at the end."""
        return {**self.outcome.troubled_nodes, **self._nodes.unanswered()}

    def snapshot(self) -> dict[str, Any]:
        """Batch and URL counts, items and per-node state, for progress views."""
        counts = self.ledger.counts()
        items, pages = self.ledger.done_totals()
        return {
            "batches": counts,
            "urls": self.ledger.urls.counts(),
            "attempts": self.ledger.attempt_counts(),
            "items": items,
            "pages": pages,
            "total": sum(counts.values()),
            "intake_open": self._dispatcher.intake_open,
            "nodes": self._nodes.snapshot(),
            "sites": self.sites.snapshot() if self.sites is not None else {},
        }
