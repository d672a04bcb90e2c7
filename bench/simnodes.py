"""Simulated scrapyd nodes for bench/fleetsim.py: one aiohttp server per node on a free loopback
port, speaking the part of scrapyd's JSON API crawl-master calls (`daemonstatus`, `listjobs`,
`schedule`, `cancel`, `listprojects`, `listspiders`), behind basic auth, with `max_proc` slots.

A scheduled job waits `pending` for a free slot, then runs as an asyncio task (`simworker.py`);
scrapyd keeps the last `FINISHED_TO_KEEP` finished jobs. `kill()` stops a node dead: its server
stops answering (connections refused) and its jobs stop without a word.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


def node_host(index: int) -> str:
    """Node `index`'s own loopback address (127.0.1.2 on; Linux routes all of 127/8 to `lo`): a
    real node is a host of its own, and the endpoint caps connections per client address."""
    return f"127.0.{1 + (index + 1) // 254}.{1 + (index + 1) % 254}"


FINISHED_TO_KEEP = 100  # scrapyd's `finished_to_keep` default


@dataclass(slots=True)
class SimJob:
    """One scheduled job: its scrapyd id, spider arguments and settings."""

    id: str
    spider: str
    args: dict[str, str]
    settings: dict[str, str]
    start_time: str | None = None
    end_time: str | None = None
    task: asyncio.Task[None] | None = None

    def to_json(self, project: str) -> dict[str, object]:
        return {"id": self.id, "project": project, "spider": self.spider,
                "start_time": self.start_time, "end_time": self.end_time}  # fmt: skip


Runner = Callable[["SimNode", SimJob], Coroutine[Any, Any, None]]


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(slots=True)
class SimNode:
    """One simulated scrapyd node serving `project`/`spider` with `slots` slots."""

    name: str
    password: str
    slots: int
    project: str
    spider: str
    run_job: Runner
    host: str = "127.0.0.1"  # where it serves, and where its jobs connect from
    username: str = "sim"
    port: int = 0
    dead: bool = False
    pending: deque[SimJob] = field(default_factory=deque)
    running: dict[str, SimJob] = field(default_factory=dict)
    finished: deque[SimJob] = field(default_factory=lambda: deque(maxlen=FINISHED_TO_KEEP))
    calls: Counter[str] = field(default_factory=Counter)  # scrapyd endpoint -> calls answered
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        gets = {"daemonstatus": self._status, "listjobs": self._listjobs,
                "listprojects": self._projects, "listspiders": self._spiders}  # fmt: skip
        for name, handler in gets.items():
            app.router.add_get(f"/{name}.json", handler)
        app.router.add_post("/schedule.json", self._schedule)
        app.router.add_post("/cancel.json", self._cancel)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()  # a free port, no race for it
        self.port = int(self._runner.addresses[0][1])

    async def kill(self) -> None:
        """Stop answering and end every job at once, as a machine that died."""
        self.dead = True
        for job in list(self.running.values()):
            if job.task is not None:
                job.task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        expected = aiohttp.BasicAuth(self.username, self.password).encode()
        if request.headers.get("Authorization") != expected:
            raise web.HTTPUnauthorized()
        self.calls[request.path.strip("/")] += 1
        return await handler(request)

    def _ok(self, **fields: object) -> web.Response:
        return web.json_response({"node_name": self.name, "status": "ok", **fields})

    async def _status(self, request: web.Request) -> web.Response:
        return self._ok(pending=len(self.pending), running=len(self.running),
                        finished=len(self.finished))  # fmt: skip

    async def _listjobs(self, request: web.Request) -> web.Response:
        lists = (self.pending, self.running.values(), self.finished)
        pending, running, finished = ([j.to_json(self.project) for j in js] for js in lists)
        return self._ok(pending=pending, running=running, finished=finished)

    async def _projects(self, request: web.Request) -> web.Response:
        return self._ok(projects=[self.project])

    async def _spiders(self, request: web.Request) -> web.Response:
        return self._ok(spiders=[self.spider])

    async def _schedule(self, request: web.Request) -> web.Response:
        form = await request.post()
        reserved = {"project", "spider", "jobid", "setting", "_version", "priority"}
        if form.get("project") != self.project or form.get("spider") != self.spider:
            return web.json_response({"status": "error", "message": "no such project/spider"})
        settings = dict(str(s).partition("=")[::2] for s in form.getall("setting", []))
        args = {k: str(v) for k, v in form.items() if k not in reserved}
        job = SimJob(str(form["jobid"]), self.spider, args, settings)
        self.pending.append(job)
        self._launch()
        return self._ok(jobid=job.id)

    async def _cancel(self, request: web.Request) -> web.Response:
        form = await request.post()
        job_id = str(form.get("job", ""))
        for job in self.pending:
            if job.id == job_id:
                self.pending.remove(job)  # scrapyd lists it nowhere after
                return self._ok(prevstate="pending")
        running = self.running.get(job_id)
        if running is None:
            return self._ok(prevstate=None)
        assert running.task is not None
        running.task.cancel()
        return self._ok(prevstate="running")

    def _launch(self) -> None:
        """Start pending jobs while slots are free (scrapyd's poller)."""
        while self.pending and len(self.running) < self.slots and not self.dead:
            job = self.pending.popleft()
            job.start_time = _now()
            self.running[job.id] = job
            job.task = asyncio.create_task(self.run_job(self, job), name=f"{self.name}/{job.id}")
            job.task.add_done_callback(lambda _task, job=job: self._ended(job))  # type: ignore[misc]

    def _ended(self, job: SimJob) -> None:
        self.running.pop(job.id, None)
        if self.dead:
            return
        job.end_time = _now()
        self.finished.append(job)
        self._launch()
