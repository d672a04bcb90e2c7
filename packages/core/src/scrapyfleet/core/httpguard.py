"""HTTP servers like nginx: deadlines for slow clients, caps per client address and in total.

`serve(app, host, port)` starts an aiohttp application behind its `HttpGuard` (`install`):

- headers: a connection sends a request's headers within `header_timeout` of connecting or of its
  previous answer, or is closed (aiohttp's keep-alive timer, which it arms at connect: nginx's
  client_header_timeout and keepalive_timeout); over TLS the handshake gets as long;
- body: a request's body arrives within `body_timeout` (408 otherwise; client_body_timeout);
- connections: at most `per_address` open per client address and `total` in all; one more is
  answered 503 and closed at once (limit_conn);
- event streams (`stream()`): at most `streams_per_address` and `streams_total`, 503 beyond;
  a write a client does not take within `send_timeout` ends its stream (send_timeout);
- logins (`login()`): failures throttled per address, `loginthrottle` (429 while banned).

Request lines and header fields keep aiohttp's bounds (8190 bytes, 128 fields; 400 beyond), a body
the application's `client_max_size` (413). Every refusal is logged as `http_refused` with the
reason, at most once per address and reason every LOG_EVERY seconds (with the count refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, Final

import structlog
from aiohttp import web

from scrapyfleet.core.httpgate import GuardedSite
from scrapyfleet.core.loginthrottle import LoginRules, LoginThrottle

LOG_EVERY: Final = 10.0  # seconds between two `http_refused` lines for one address and reason
LOG_KEYS: Final = 10_000  # (address, reason) pairs remembered for that; then forgotten at once
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = structlog.get_logger("scrapyfleet.core.httpguard")


@dataclass(frozen=True, slots=True)
class Limits:
    """Deadlines (seconds) and caps of one server."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    send_timeout: float = 30.0
    per_address: int = 32
    total: int = 256
    streams_per_address: int = 8
    streams_total: int = 64


class HttpGuard:
    """The limits of one server, the connections and streams it holds, its failed logins."""

    def __init__(
        self, name: str, limits: Limits | None = None, logins: LoginRules | None = None
    ) -> None:
        self.name = name
        self.limits = limits or Limits()
        self.connections: Counter[str] = Counter()  # open connections by client address
        self.streams: Counter[str] = Counter()  # open event streams by client address
        self.logins = LoginThrottle(logins)
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    def refused(self, address: str, reason: str, **fields: Any) -> None:
        """Log a refusal (rate-limited per address and reason)."""
        now = time.monotonic()
        if len(self._logged) > LOG_KEYS:
            self._logged.clear()
        last, held = self._logged.get((address, reason), (-LOG_EVERY, 0))
        if now - last < LOG_EVERY:
            self._logged[address, reason] = (last, held + 1)
            return
        self._logged[address, reason] = (now, 0)
        log.warning(
            "http_refused",
            server=self.name,
            peer=address,
            reason=reason,
            refused=held + 1,
            **fields,
        )

    # -- connections ---------------------------------------------------------------------------
    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`; why it is refused instead, if it is."""
        limits = self.limits
        if self.connections[address] >= limits.per_address:
            reason = f"over {limits.per_address} connections from one address"
        elif self.connections.total() >= limits.total:
            reason = f"over {limits.total} connections"
        else:
            self.connections[address] += 1
            return None
        self.refused(address, reason)
        return reason

    def release(self, address: str) -> None:
        """A connection admitted from `address` closed."""
        self.connections[address] -= 1
        if self.connections[address] <= 0:
            del self.connections[address]

    # -- requests ------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Read a request's body within `body_timeout` (408 otherwise) before its handler; a
        client that hangs up mid-body is logged refused (400 to nobody), never a traceback."""
        if request.can_read_body:
            try:
                await asyncio.wait_for(request.read(), self.limits.body_timeout)
            except TimeoutError:
                reason = f"body not sent within {self.limits.body_timeout:g}s"
                self.refused(client(request), reason)
                late = web.HTTPRequestTimeout(text=reason + "\n")
                late.force_close()
                raise late from None
            except ConnectionResetError:
                self.refused(client(request), "connection closed before the body was read")
                gone = web.HTTPBadRequest(text="connection closed mid-body\n")
                gone.force_close()
                raise gone from None
        return await handler(request)

    @contextlib.asynccontextmanager
    async def stream(self, request: web.Request) -> AsyncIterator[None]:
        """Hold an event-stream slot while the block runs; 503 if the caps are reached."""
        address, limits = client(request), self.limits
        if self.streams[address] >= limits.streams_per_address:
            reason = f"over {limits.streams_per_address} event streams from one address"
        elif self.streams.total() >= limits.streams_total:
            reason = f"over {limits.streams_total} event streams"
        else:
            reason = ""
        if reason:
            self.refused(address, reason)
            raise web.HTTPServiceUnavailable(text=reason + "\n", headers={"Retry-After": "10"})
        self.streams[address] += 1
        try:
            yield
        finally:
            self.streams[address] -= 1
            if self.streams[address] <= 0:
                del self.streams[address]

    async def send(self, request: web.Request, response: web.StreamResponse, data: bytes) -> None:
        """Write `data` to a stream; a client that does not take it within `send_timeout` is
        disconnected (ConnectionResetError)."""
        try:
            await asyncio.wait_for(response.write(data), self.limits.send_timeout)
        except TimeoutError:
            self.refused(client(request), f"not reading for {self.limits.send_timeout:g}s")
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("client not reading") from None

    async def login(self, request: web.Request, accepted: bool) -> None:
        """Count a request that carried credentials: 429 while its address is banned (however
        right); after a failure, the address's delay passes before the caller answers 401."""
        address, now = client(request), time.monotonic()
        left = self.logins.banned(address, now)
        if not left and accepted:
            self.logins.succeeded(address)
            return
        if not left:
            verdict = self.logins.failed(address, now)
            if not verdict.banned:
                if verdict.delay:
                    self.refused(address, "failed logins: delayed", failures=verdict.failures)
                    await asyncio.sleep(verdict.delay)
                return
            left = verdict.banned
            log.warning("login_banned", server=self.name, peer=address, seconds=left)
        self.refused(address, "failed logins: banned")
        raise web.HTTPTooManyRequests(
            text=f"too many failed logins from your address; retry in {left:.0f}s\n",
            headers={"Retry-After": str(max(1, round(left)))},
        )


GUARD: Final = web.AppKey("httpguard", HttpGuard)


def client(request: web.Request) -> str:
    """The client address limits count by."""
    return request.remote or "unknown"


def install(
    app: web.Application,
    name: str,
    limits: Limits | None = None,
    logins: LoginRules | None = None,
) -> HttpGuard:
    """Put a guard on `app` (its middleware, and `app[GUARD]` for handlers) before it is served."""
    guard = HttpGuard(name, limits, logins)
    app[GUARD] = guard
    app.middlewares.append(guard.middleware)
    return guard


async def serve(
    app: web.Application,
    host: str,
    port: int,
    ssl_context: SSLContext | None = None,
    name: str = "http",
    **runner_options: Any,
) -> web.AppRunner:
    """Serve `app` on host:port (0: any free port) behind its guard (`install`ed, else one with
    the default limits named `name`); the started runner (`addresses`, `cleanup()`). OSError if
    the address cannot be bound. `runner_options` go to `web.AppRunner` (e.g. access_log=None)."""
    guard = app.get(GUARD) or install(app, name)
    runner = web.AppRunner(app, keepalive_timeout=guard.limits.header_timeout, **runner_options)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, guard, guard.limits.header_timeout, ssl_context)
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
