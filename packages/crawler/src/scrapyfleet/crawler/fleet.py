"""The master's dispatcher: batches from the ledger onto scrapyd nodes, until every one is done.

Each tick polls every node (`daemonstatus.json`, `listjobs.json`), reconciles the batches it holds
(a job that vanished, finished without a successful worker report, or sat on a node silent for
longer than the node timeout fails its attempt and is queued again, up to `max_attempts`), then
places queued batches on the nodes with free slots. Workers fetch payloads and report through the
batch server (`batchserver.py`), so the ledger is the one source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from scrapyfleet.core.scrapyd import DaemonStatus, Job, ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.batchserver import BatchEndpoint, make_app
from scrapyfleet.crawler.ledger import ACTIVE, Batch, Ledger
from scrapyfleet.crawler.placement import Placement, Placer
from scrapyfleet.crawler.reports import WorkerReport

log = structlog.get_logger("scrapyfleet.crawler.fleet")

REPORT_GRACE = 3.0  # seconds a finished job may wait for its report before it counts as failed
SET_ASIDE_AFTER = 3  # consecutive infrastructure failures that set a node aside for the run
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything the dispatcher needs; built from the `DISTRIBUTED_*` settings by the middleware
    (their defaults live in the settings module)."""

    targets: list[Target]
    run_dir: Path
    feed_uri: str
    project: str
    spider: str
    listen_host: str
    listen_port: int
    advertise_url: str | None
    worker_settings: dict[str, str]
    default_slots: int
    placement: Placement
    max_attempts: int
    node_timeout: float
    poll_interval: float
    request_timeout: float = 5.0  # seconds per scrapyd API call


@dataclass(slots=True)
class Node:
    """What the dispatcher knows of one scrapyd node."""

    target: Target
    client: ScrapydClient
    slots: int
    status: DaemonStatus | None = None
    jobs: dict[str, Job] = field(default_factory=dict)
    unreachable_since: float | None = None
    reason: str = ""
    down: bool = False  # silent for longer than the node timeout
    set_aside: bool = False
    failures: int = 0  # consecutive failed attempts
    placed: int = 0  # batches placed since the last poll
    missing: dict[str, int] = field(default_factory=dict)  # job -> polls it was in no list
    finished_seen: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def usable(self) -> bool:
        return self.unreachable_since is None and not self.set_aside

    def free(self) -> int:
        busy = (self.status.running + self.status.pending) if self.status else self.slots
        return self.slots - busy - self.placed


@dataclass(slots=True)
class Outcome:
    """How the run ended, for the summary and the exit code."""

    failed: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    troubled_nodes: dict[str, str] = field(default_factory=dict)


class Fleet:
    """Owns the ledger's batches while the run lasts: serves, places, tracks and retries them."""

    def __init__(self, config: FleetConfig, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.run_id = ledger.get_meta("run_id") or secrets.token_hex(4)
        self.token = ledger.get_meta("token") or secrets.token_urlsafe(24)
        ledger.set_meta("run_id", self.run_id)
        ledger.set_meta("token", self.token)
        self.outcome = Outcome()
        self.on_tick: Callable[[dict[str, Any]], None] | None = None
        self._nodes: dict[str, Node] = {}
        self._placer = Placer(config.placement)
        self._not_before: dict[str, float] = {}
        self._avoid: dict[str, str] = {}
        self._intake_open = True
        self._stopping = False
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._no_node_since: float | None = None
        self.master_url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve the batch endpoint and start dispatching."""
        self._session = aiohttp.ClientSession()
        for target in self.config.targets:
            client = ScrapydClient(target, self._session, timeout=self.config.request_timeout)
            slots = target.slots or self.config.default_slots
            self._nodes[target.name] = Node(target, client, slots)
        endpoint = BatchEndpoint(self.ledger, self.token, self._fetched, self._report)
        self._runner = web.AppRunner(make_app(endpoint), access_log=None)
        await self._runner.setup()
        port = self.config.listen_port or int(self.ledger.get_meta("port") or 0)
        site = web.TCPSite(self._runner, self.config.listen_host, port)
        try:
            await site.start()
        except OSError:  # the port of a resumed run is taken: workers of old attempts will retry
            site = web.TCPSite(self._runner, self.config.listen_host, 0)
            await site.start()
        host, port = self._runner.addresses[0][:2]
        self.ledger.set_meta("port", str(port))
        self.master_url = self.config.advertise_url or f"http://{host}:{port}"
        log.info("batch_server_started", url=self.master_url, run_dir=str(self.config.run_dir))
        await asyncio.gather(*(self._check(node) for node in self._nodes.values()))
        self._task = asyncio.create_task(self._loop(), name="fleet-dispatch")

    async def _check(self, node: Node) -> None:
        """Say up front which nodes answer and serve the project (the loop copes either way)."""
        try:
            projects = await node.client.listprojects()
        except ScrapydError as exc:
            self._unreachable(node, exc.reason)
            return
        if self.config.project not in projects:
            log.warning(
                "project_missing",
                node=node.name,
                project=self.config.project,
                projects=projects,
                hint="use --deploy, or the egg-less [settings]",
            )
        else:
            log.info("node_ready", node=node.name, url=node.target.url, slots=node.slots)

    def close_intake(self) -> None:
        """No more batches will come: the fleet ends once the ledger's batches are settled."""
        self._intake_open = False
        self._wake.set()

    async def wait(self) -> Outcome:
        await self._done.wait()
        return self.outcome

    async def stop(self) -> None:
        """End after the tick in flight (its schedule calls complete); release the endpoint."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def add_batch(self, urls: list[str]) -> Batch:
        batch = self.ledger.add_batch(self.run_id, urls)
        log.info("batch_created", batch=batch.id, urls=batch.size)
        self._wake.set()
        return batch

    # -- worker callbacks ------------------------------------------------------------------------
    def _fetched(self, batch_id: str, job: str) -> None:
        self.ledger.running(batch_id, job)

    async def _report(self, batch_id: str, report: WorkerReport) -> str:
        batch = self.ledger.batch(batch_id)
        if report.succeeded:
            if self.ledger.done(batch_id, report.job, report.items, report.pages):
                log.info("batch_done", batch=batch_id, node=report.node, job=report.job,
                         items=report.items, pages=report.pages)  # fmt: skip
                if report.node in self._nodes:
                    self._nodes[report.node].failures = 0
            self._wake.set()
        elif report.job == batch.job and batch.state in ACTIVE:
            reason = (
                f"finish reason {report.finish_reason}"
                if report.finish_reason != "finished"
                else "feed upload failed"
            )
            self._fail(batch, reason, node_fault=False)
        return self.ledger.batch(batch_id).state

    # -- the loop --------------------------------------------------------------------------------
    async def _loop(self) -> None:
        try:
            while True:
                await self._poll()
                self._reconcile()
                await self._place()
                if self.on_tick is not None:
                    self.on_tick(self.snapshot())
                if self._stopping or self._settled():
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
        finally:
            self._done.set()

    def _settled(self) -> bool:
        if self._intake_open:
            return False
        counts = self.ledger.counts()
        return not any(counts.get(s, 0) for s in ("queued", "scheduled", "running"))

    async def _poll(self) -> None:
        await asyncio.gather(*(self._poll_node(node) for node in self._nodes.values()))
        now = time.monotonic()
        if any(node.usable for node in self._nodes.values()):
            self._no_node_since = None
            return
        self._no_node_since = self._no_node_since or now
        if now - self._no_node_since > self.config.node_timeout:
            self._abort(
                "no usable scrapyd node (all unreachable or set aside) for longer than"
                f" the node timeout ({self.config.node_timeout:g}s)"
            )

    async def _poll_node(self, node: Node) -> None:
        try:
            status, jobs = await asyncio.gather(
                node.client.daemonstatus(), node.client.listjobs(self.config.project)
            )
        except ScrapydError as exc:
            self._unreachable(node, exc.reason)
            return
        if node.unreachable_since is not None:
            log.info("node_recovered", node=node.name, url=node.target.url)
        node.unreachable_since, node.down, node.reason = None, False, ""
        node.status, node.placed = status, 0
        node.jobs = jobs.by_id()

    def _unreachable(self, node: Node, reason: str) -> None:
        now = time.monotonic()
        if node.unreachable_since is None:
            node.unreachable_since = now
            log.warning("node_unreachable", node=node.name, url=node.target.url, reason=reason)
        node.reason = reason
        if not node.down and now - node.unreachable_since > self.config.node_timeout:
            node.down = True
            self.outcome.troubled_nodes[node.name] = f"unreachable: {reason}"
            log.error("node_down", node=node.name, url=node.target.url, reason=reason,
                      seconds=round(now - node.unreachable_since, 1))  # fmt: skip

    def _reconcile(self) -> None:
        now = time.monotonic()
        for batch in self.ledger.batches(*ACTIVE):
            node = self._nodes.get(batch.node or "")
            if node is None or batch.job is None:
                self._fail(batch, f"node {batch.node} is not a target of this run")
            elif node.down:
                self._fail(batch, f"node {node.name} unreachable: {node.reason}")
            elif node.unreachable_since is None:
                self._check_job(node, batch, now)

    def _check_job(self, node: Node, batch: Batch, now: float) -> None:
        """Compare one batch's job with its node's latest job lists."""
        assert batch.job is not None
        job = node.jobs.get(batch.job)
        if job is None:
            # Seen in no list twice in a row: scrapyd dropped or forgot it.
            node.missing[batch.job] = node.missing.get(batch.job, 0) + 1
            if node.missing[batch.job] >= 2:
                self._fail(batch, f"job {batch.job} vanished from {node.name}")
            return
        node.missing.pop(batch.job, None)
        if job.state == "finished":
            first = node.finished_seen.setdefault(batch.job, now)
            if now - first > REPORT_GRACE:
                self._fail(batch, "job finished without a successful report")
        elif job.state == "running":
            self.ledger.running(batch.id, batch.job)

    def _fail(self, batch: Batch, reason: str, node_fault: bool = True) -> None:
        assert batch.job is not None
        state = self.ledger.attempt_failed(batch.id, batch.job, reason, self.config.max_attempts)
        node = self._nodes.get(batch.node or "")
        if node is not None and node_fault:
            node.failures += 1
            if node.failures >= SET_ASIDE_AFTER and not node.set_aside:
                node.set_aside = True
                self.outcome.troubled_nodes[node.name] = f"set aside: {reason}"
                log.error("node_set_aside", node=node.name, failures=node.failures, reason=reason)
        if state == "failed":
            self.outcome.failed[batch.id] = reason
            log.error("batch_failed", batch=batch.id, attempts=batch.attempts, reason=reason)
        else:
            delay = min(MAX_BACKOFF, 2.0 ** (batch.attempts - 1)) if not node_fault else 0.0
            self._not_before[batch.id] = time.monotonic() + delay
            if batch.node:
                self._avoid[batch.id] = batch.node
            log.warning("batch_retry", batch=batch.id, attempt=batch.attempts, node=batch.node,
                        reason=reason, delay=delay)  # fmt: skip
        self._wake.set()

    async def _place(self) -> None:
        names = list(self._nodes)
        now = time.monotonic()
        for batch in self.ledger.batches("queued"):
            if self._not_before.get(batch.id, 0.0) > now:
                continue
            usable = [n for n in names if self._nodes[n].usable]
            free = {n: self._nodes[n].free() for n in usable}
            choice = self._placer.choose(usable, free, avoid=self._avoid.get(batch.id))
            if choice is None:
                return
            await self._schedule(batch, self._nodes[choice])

    async def _schedule(self, batch: Batch, node: Node) -> None:
        attempt = batch.attempts + 1
        job = f"{batch.id}-a{attempt}"
        settings = {
            "DISTRIBUTED_MASTER_URL": self.master_url,
            "DISTRIBUTED_TOKEN": self.token,
            "FEEDS": json.dumps({self.config.feed_uri: {"format": "jsonlines"}}),
            **self.config.worker_settings,
        }
        args = {"batch": batch.id, "node": node.name, "attempt": str(attempt)}
        try:
            await node.client.schedule(
                self.config.project, self.config.spider, settings=settings, args=args, jobid=job
            )
        except ScrapydError as exc:
            if exc.rejected:  # e.g. unknown project or spider: retrying elsewhere may not help
                log.error("schedule_rejected", batch=batch.id, node=node.name, reason=exc.reason)
                self.ledger.scheduled(batch.id, node.name, job)
                self._fail(self.ledger.batch(batch.id), f"{node.name} refused: {exc.reason}")
                return
            if not exc.reason.startswith("timeout"):
                log.warning("schedule_failed", batch=batch.id, node=node.name, reason=exc.reason)
                self._unreachable(node, exc.reason)
                return
            # The node may have queued it: track the job id; if it never shows up in the node's
            # lists, reconciling counts it as vanished and retries the batch.
            log.warning("schedule_uncertain", batch=batch.id, node=node.name, reason=exc.reason)
        node.placed += 1
        self.ledger.scheduled(batch.id, node.name, job)
        log.info("batch_scheduled", batch=batch.id, node=node.name, job=job, attempt=attempt)

    def _abort(self, reason: str) -> None:
        if self.outcome.fatal is None:
            self.outcome.fatal = reason
            log.error("run_aborted", reason=reason)
        for batch in self.ledger.batches("queued", *ACTIVE):
            self.ledger.give_up(batch.id, reason)
            self.outcome.failed[batch.id] = reason
        self._intake_open = False

    # -- progress --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Batch counts, items and per-node state, for progress views."""
        counts = self.ledger.counts()
        items, pages = self.ledger.done_totals()
        return {
            "batches": counts,
            "items": items,
            "pages": pages,
            "total": sum(counts.values()),
            "intake_open": self._intake_open,
            "nodes": {
                n.name: {
                    "up": n.unreachable_since is None,
                    "set_aside": n.set_aside,
                    "running": n.status.running if n.status else None,
                    "pending": n.status.pending if n.status else None,
                    "slots": n.slots,
                }
                for n in self._nodes.values()
            },
        }
