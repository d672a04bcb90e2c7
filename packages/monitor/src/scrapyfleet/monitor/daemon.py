"""The monitor loop: poll every node concurrently, turn answers into events, repeat.

A node that fails a poll is `node_unreachable` (every such poll) and `node_down` at the first of
an outage (no timeout: crawl-master's `node_timed_out` waits for `--node-timeout`), `node_recovered`
at the first answer after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from scrapyfleet.core.contracts import Events
from scrapyfleet.core.scrapyd import DaemonStatus, JobList, ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.poll import JobChanges, JobTracker


@dataclass(frozen=True, slots=True)
class Event:
    """One monitor event: a name, a log level and its fields (docs/architecture.md, "Contracts")."""

    name: str
    level: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NodeReport:
    """One node's answer to one poll: its status, jobs and job changes, or why it did not answer;
    `latency` is how long the poll of this node took (seconds)."""

    target: Target
    status: DaemonStatus | None = None
    changes: JobChanges | None = None
    reason: str | None = None
    jobs: JobList | None = None
    latency: float = 0.0

    @property
    def up(self) -> bool:
        return self.status is not None


@dataclass(frozen=True, slots=True)
class PollReport:
    """Every node's report and the events of one poll."""

    nodes: list[NodeReport]
    events: list[Event]

    @property
    def all_up(self) -> bool:
        return all(node.up for node in self.nodes)


@dataclass(slots=True)
class NodeState:
    tracker: JobTracker = field(default_factory=JobTracker)
    down: bool = False


class Monitor:
    """Polls `targets` for `project`; each poll bounded by `timeout` per node."""

    def __init__(
        self,
        targets: Sequence[Target],
        project: str,
        session: aiohttp.ClientSession,
        timeout: float,
    ) -> None:
        self.project = project
        self.clients = [ScrapydClient(t, session, timeout) for t in targets]
        self.states = {t.url: NodeState() for t in targets}

    async def _ask(self, client: ScrapydClient) -> NodeReport:
        started = time.monotonic()
        asked = asyncio.gather(
            client.daemonstatus(), client.listjobs(self.project), return_exceptions=True
        )
        status, jobs = await asked
        latency = time.monotonic() - started
        if isinstance(status, BaseException) or isinstance(jobs, BaseException):
            failures = [o for o in (status, jobs) if isinstance(o, BaseException)]
            reasons: dict[str, None] = {}
            for failure in failures:
                if not isinstance(failure, ScrapydError):
                    raise failure
                reasons[failure.reason] = None
            return NodeReport(client.target, reason="; ".join(reasons), latency=latency)
        changes = self.states[client.target.url].tracker.update(jobs)
        return NodeReport(client.target, status, changes, jobs=jobs, latency=latency)

    def _events(self, report: NodeReport) -> list[Event]:
        target, state = report.target, self.states[report.target.url]
        where = {"node": target.name, "url": target.url}
        if report.status is None or report.changes is None:
            events = [Event(Events.NODE_UNREACHABLE, "warning", {**where, "reason": report.reason})]
            if not state.down:  # once per outage
                state.down = True
                events.append(
                    Event(Events.NODE_DOWN, "warning", {**where, "reason": report.reason})
                )
            return events
        events = []
        if state.down:
            state.down = False
            events.append(Event(Events.NODE_RECOVERED, "info", where))
        events += [
            Event(
                Events.JOB_VANISHED,
                "warning",
                {"node": target.name, "job": job.id, "spider": job.spider},
            )
            for job in report.changes.vanished
        ]
        status = report.status
        counts = {"pending": status.pending, "running": status.running, "finished": status.finished}
        started, completed = report.changes.started, report.changes.completed
        events.append(
            Event(
                Events.NODE_STATUS,
                "info",
                {**where, **counts, "started": started, "completed": completed},
            )
        )
        return events

    async def poll(self) -> PollReport:
        """Ask every node at once; one event list for the whole poll, cluster totals last."""
        nodes = await asyncio.gather(*(self._ask(client) for client in self.clients))
        events = [event for node in nodes for event in self._events(node)]
        up = [node.status for node in nodes if node.status is not None]
        totals = {
            "nodes_up": len(up),
            "nodes_down": len(nodes) - len(up),
            "pending": sum(s.pending for s in up),
            "running": sum(s.running for s in up),
            "finished": sum(s.finished for s in up),
        }
        events.append(Event(Events.CLUSTER_STATUS, "info", totals))
        return PollReport(list(nodes), events)


class Poller(Protocol):
    """What `run` polls: a Monitor, or something that wraps one."""

    async def poll(self) -> PollReport: ...


async def run(
    monitor: Poller,
    interval: float,
    show: Callable[[PollReport], None],
    stop: asyncio.Event,
    once: bool = False,
) -> bool:
    """Poll every `interval` seconds until `stop` is set; a poll in flight is finished first.

    Returns whether every node answered the last poll.
    """
    while True:
        started = time.monotonic()
        report = await monitor.poll()
        show(report)
        if once or stop.is_set():
            return report.all_up
        delay = max(0.0, interval - (time.monotonic() - started))
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            continue
        return report.all_up
