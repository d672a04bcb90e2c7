"""The run's scrapyd nodes with their clients: the start-up check, the poll of every node, and
the record of troubled nodes for the summary; also the run's clock (monotonic seconds), which the
dispatch rules read, so tests can drive them with an in-memory node and a clock of their own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import aiohttp
import structlog

from scrapyfleet.core.scrapyd import DaemonStatus, JobList, ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.nodes import Node

log = structlog.get_logger("scrapyfleet.crawler.master.nodepool")


class NodeApi(Protocol):
    """The scrapyd calls the dispatcher makes (`ScrapydClient` is one); each raises ScrapydError."""

    async def listprojects(self) -> list[str]: ...
    async def daemonstatus(self) -> DaemonStatus: ...
    async def listjobs(self, project: str) -> JobList: ...
    async def schedule(
        self,
        project: str,
        spider: str,
        *,
        settings: Mapping[str, str] | None = None,
        args: Mapping[str, str] | None = None,
        jobid: str | None = None,
    ) -> str: ...


class NodePool:
    """Every node of the run with its scrapyd client; records what went wrong with a node into
    `troubled` (node name -> trouble, for the summary)."""

    def __init__(
        self,
        targets: list[Target],
        default_slots: int,
        node_timeout: float,
        troubled: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nodes = {t.name: Node(t, t.slots or default_slots) for t in targets}
        self._clients: dict[str, NodeApi] = {}
        self.node_timeout = node_timeout
        self.troubled = troubled
        self.clock = clock

    def connect(self, session: aiohttp.ClientSession, timeout: float) -> None:
        """A scrapyd client per node, on `session`, each call bounded by `timeout` seconds."""
        for name, node in self._nodes.items():
            self.attach(name, ScrapydClient(node.target, session, timeout=timeout))

    def attach(self, name: str, client: NodeApi) -> None:
        """Node `name` is reached through `client`."""
        self._clients[name] = client

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def get(self, name: str | None) -> Node | None:
        return self._nodes.get(name or "")

    def client(self, node: Node) -> NodeApi:
        return self._clients[node.name]

    def usable(self) -> list[Node]:
        return [node for node in self if node.usable]

    async def check(self, project: str) -> None:
        """Say up front which nodes answer and serve `project` (the dispatcher copes either way)."""
        await asyncio.gather(*(self._check(node, project) for node in self))

    async def _check(self, node: Node, project: str) -> None:
        try:
            projects = await self.client(node).listprojects()
        except ScrapydError as exc:
            self.unreachable(node, exc.reason)
            return
        if project not in projects:
            log.warning("project_missing", node=node.name, project=project, projects=projects,
                        hint="use --deploy, or the egg-less [settings]")  # fmt: skip
        else:
            log.info("node_ready", node=node.name, url=node.target.url, slots=node.slots)

    async def poll(self, project: str, interval: float) -> None:
        """`daemonstatus.json` and `listjobs.json` of every node due for a poll (`rules.poll_due`:
        a quiet one is due less often), at once."""
        now = self.clock()
        due = [node for node in self if rules.poll_due(node.polled_at, now, interval, node.quiet)]
        for node in due:
            node.polled_at = now
        await asyncio.gather(*(self._poll(node, project) for node in due))

    async def _poll(self, node: Node, project: str) -> None:
        client = self.client(node)
        try:
            status, jobs = await asyncio.gather(client.daemonstatus(), client.listjobs(project))
        except ScrapydError as exc:
            self.unreachable(node, exc.reason)
            return
        node.polled(status, jobs)

    def unreachable(self, node: Node, reason: str) -> None:
        if node.unreachable(reason, self.clock(), self.node_timeout):
            self.troubled[node.name] = f"unreachable: {reason}"

    def fault(self, node: Node, reason: str) -> None:
        if node.fault(reason):
            self.troubled[node.name] = f"set aside: {reason}"

    def unanswered(self) -> dict[str, str]:
        """Nodes not answering now that have not yet timed out (the run may end before
        `node_timeout` passes): the summary names them too."""
        now = self.clock()
        return {
            node.name: f"unreachable: {node.reason} (for {now - node.unreachable_since:.1f} s)"
            for node in self
            if node.unreachable_since is not None and node.name not in self.troubled
        }

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per-node state for progress views."""
        return {
            n.name: {
                "up": n.reachable,
                "set_aside": n.set_aside,
                "running": n.status.running if n.status else None,
                "pending": n.status.pending if n.status else None,
                "slots": n.slots,
            }
            for n in self
        }
