"""A fault-injecting, measuring HTTP proxy in front of the demo site, for the site-health tests.

It forwards every request to the site (real HTTP both ways) and measures what the site side sees:
when each request arrived, and the most requests in flight at once. A scheduled fault fails
every request for a while once a number of requests has been seen: `503` answers 503, `reset`
drops the connection unanswered, `429` answers one 429 with `Retry-After`. It binds 127.0.0.1
on a free port and runs in a thread of the test process (stopped at teardown).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Fault:
    after: int  # requests seen before it begins
    mode: str  # 503 | reset | 429
    seconds: float = 0.0  # how long it lasts (429: the Retry-After it sends, once)
    began: float | None = None


@dataclass
class SiteProxy:
    upstream: str
    fault: Fault | None = None
    arrivals: list[float] = field(default_factory=list)  # monotonic time of each request
    paths: Counter[str] = field(default_factory=Counter)  # requests per path
    inflight: int = 0
    max_inflight: int = 0  # of the pages (robots.txt is not counted)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def during(self) -> int:
        """Requests that arrived while the fault lasted."""
        f = self.fault
        assert f is not None and f.began is not None
        return sum(1 for t in self.arrivals if f.began <= t < f.began + f.seconds)

    def gap_after_fault(self, since: float, until: float) -> int:
        """Requests that arrived between `since` and `until` seconds after the fault began."""
        assert self.fault is not None and self.fault.began is not None
        start = self.fault.began
        return sum(1 for t in self.arrivals if start + since <= t < start + until)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        self.arrivals.append(now)
        self.paths[request.path] += 1
        f = self.fault
        if f is not None and f.began is None and len(self.arrivals) > f.after:
            f.began = now
            if f.mode == "429":
                return web.Response(status=429, headers={"Retry-After": str(int(f.seconds))})
        if f is not None and f.began is not None and f.mode != "429" and now < f.began + f.seconds:
            if f.mode == "reset":
                assert request.transport is not None
                request.transport.abort()
            return web.Response(status=503, text="down for maintenance\n")
        counted = request.path != "/robots.txt"  # one per crawl, outside the budget (sitegate)
        self.inflight += counted
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            assert self._session is not None
            async with self._session.get(self.upstream + request.path_qs) as answer:
                body = await answer.read()
                return web.Response(status=answer.status, body=body,
                                    content_type=answer.content_type)  # fmt: skip
        finally:
            self.inflight -= counted

    def start(self) -> str:
        ready = threading.Event()

        async def serve() -> None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
            )
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            loop.run_until_complete(serve())
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="site-proxy", daemon=True)
        self._thread.start()
        assert ready.wait(10), "the proxy did not start"
        return self.url

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def close() -> None:
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)

    _session: aiohttp.ClientSession | None = None
    _runner: web.AppRunner = field(init=False)
