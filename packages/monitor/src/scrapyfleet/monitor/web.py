"""The web console: one live page for the fleet, served from the monitor's own event loop.

Routes: `/` the page, `/static/*` its script and style (every asset served here: no CDN, works
offline), `/events` server-sent events (the latest snapshot on connect, then one per poll),
`/snapshot.json` the latest snapshot, the job-log proxy (`logproxy`) and, with a state
directory, the control API under `/api/` (`api`: the only routes that change anything). With
credentials, every request needs basic auth (compared in constant time). Served behind
`scrapyfleet.core.httpguard` (slow clients cut, connections and event streams capped per address
and in total, failed logins delayed then banned per address).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from importlib.resources import files
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from scrapyfleet.core import httpguard, safejson
from scrapyfleet.core.metrics import Address
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.logproxy import ROUTE, log_handler

HEARTBEAT = 15.0  # seconds between SSE comments that keep idle connections open
SHUTDOWN = 1.0  # seconds open requests get when the console stops
ASSETS = {
    "console.js": "text/javascript",
    "control.js": "text/javascript",
    "console.css": "text/css",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
REALM = 'Basic realm="scrapyfleet monitor", charset="UTF-8"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gate(Protocol):
    """What lets a request in: `Credentials`, or the console's accounts (`roles.Accounts`)."""

    def accept(self, header: str | None) -> bool: ...


class Hub:
    """The latest snapshot and the open event streams it goes to."""

    def __init__(self) -> None:
        self.latest: bytes | None = None
        self._streams: set[asyncio.Queue[bytes | None]] = set()

    def publish(self, snapshot: dict[str, Any]) -> None:
        """Send `snapshot` (as strict JSON: a non-finite number becomes null) to every stream; a
        slow one skips to the newest."""
        self.latest = safejson.dumps(safejson.finite(snapshot), separators=(",", ":")).encode()
        for queue in self._streams:
            _replace(queue, self.latest)

    def close(self) -> None:
        """End every stream (the console is stopping)."""
        for queue in self._streams:
            _replace(queue, None)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """`/events`: `snapshot` events until the browser or the console goes (503 beyond the
        guard's caps on event streams)."""
        async with request.app[httpguard.GUARD].stream(request):
            return await self._stream(request)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        send = request.app[httpguard.GUARD].send
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(1)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        self._streams.add(queue)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    await send(request, response, b": alive\n\n")
                    continue
                if data is None:
                    break
                await send(request, response, b"event: snapshot\ndata: " + data + b"\n\n")
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass  # the browser went away
        finally:
            self._streams.discard(queue)
        return response

    async def snapshot(self, request: web.Request) -> web.Response:
        """`/snapshot.json`: the latest snapshot (503 before the first poll)."""
        if self.latest is None:
            return web.json_response({"error": "no poll yet"}, status=503)
        return web.Response(body=self.latest, content_type="application/json")


def _replace(queue: asyncio.Queue[bytes | None], item: bytes | None) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


def _asset(name: str) -> bytes:
    return (files("scrapyfleet.monitor") / "static" / name).read_bytes()


def make_app(
    hub: Hub,
    targets: Mapping[str, Target],
    session: aiohttp.ClientSession,
    timeout: float,
    credentials: Gate | None = None,
    api: web.Application | None = None,
) -> web.Application:
    """The console's application; `targets` by name for the log proxy; `api` under `/api/`."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        accepted = credentials is None or credentials.accept(header)
        if credentials is not None and header is not None:
            await shield.login(request, accepted)  # 429 while banned; a failure waits its delay
        if not accepted:
            response: web.StreamResponse = web.Response(
                status=401, text="credentials required\n", headers={"WWW-Authenticate": REALM}
            )
        else:
            response = await handler(request)
        response.headers.update(HEADERS)
        return response

    page = _asset("index.html")
    assets = {name: (_asset(name), kind) for name, kind in ASSETS.items()}

    async def index(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    async def asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(text="no such asset\n")
        body, kind = found
        return web.Response(body=body, content_type=kind, charset="utf-8")

    app = web.Application(middlewares=[guard])
    shield = httpguard.install(app, "web console")
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/events", hub.stream)
    app.router.add_get("/snapshot.json", hub.snapshot)
    app.router.add_get(ROUTE, log_handler(targets, session, timeout))
    if api is not None:
        app.add_subapp("/api/", api)
    return app


async def serve(app: web.Application, where: Address) -> tuple[web.AppRunner, str]:
    """Start serving `app` on `where`; the runner (to clean up) and the page's URL.

    OSError if the address cannot be bound.
    """
    runner = await httpguard.serve(
        app, where.host, where.port, access_log=None, shutdown_timeout=SHUTDOWN
    )
    host, port = runner.addresses[0][:2]
    return runner, f"http://{Address(str(host), int(port))}/"
