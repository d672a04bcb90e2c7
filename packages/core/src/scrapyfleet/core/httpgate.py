"""Connections let in or refused before aiohttp sees them: the asyncio side of `httpguard`.

`GuardedSite` is aiohttp's `TCPSite` with one difference: each accepted connection first asks an
`Admission` (the guard's connection caps); an admitted one goes to aiohttp's own protocol
unchanged. A refused one is answered `503` at once, then half-closed, its request read and dropped
until its headers end or LINGER seconds pass (closing with a request unread would reset the
connection, and the client would never see the 503); past MAX_LINGERING such connections, one more
is closed straight after its answer. Over TLS a handshake gets `handshake_timeout` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ssl import SSLContext
from typing import Protocol

from aiohttp import web

ProtocolFactory = Callable[[], asyncio.Protocol]
LINGER = 1.0  # seconds a refused connection is held while its request arrives
MAX_LINGERING = 512  # refused connections held at once; more are closed straight away


class Admission(Protocol):
    """Who counts connections: `admit` returns why one is refused, or None and counts it."""

    def admit(self, address: str) -> str | None: ...

    def release(self, address: str) -> None: ...


class _Gate(asyncio.Protocol):
    """One connection: refused with a 503 at once, or admitted and handed to aiohttp."""

    def __init__(self, guard: Admission, factory: ProtocolFactory, lingering: set[_Gate]) -> None:
        self._guard = guard
        self._factory = factory
        self._lingering = lingering
        self._inner: asyncio.Protocol | None = None
        self._address = ""
        self._transport: asyncio.Transport | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        reason = self._guard.admit(self._address)
        if reason is None:
            self._inner = self._factory()
            self._inner.connection_made(transport)
            return
        assert isinstance(transport, asyncio.Transport)
        transport.write(_busy(reason))
        if len(self._lingering) >= MAX_LINGERING or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()  # the answer, then the end: the client reads both
        self._lingering.add(self)
        self._transport = transport
        asyncio.get_running_loop().call_later(LINGER, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lingering.discard(self)
        if self._inner is not None:
            self._guard.release(self._address)
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
        elif self._transport is not None:  # refused: drop the request, close once it is in
            seen = self._tail + data
            self._tail = seen[-3:]
            if b"\r\n\r\n" in seen:
                self._transport.close()

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else False  # close

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


def _busy(reason: str) -> bytes:
    body = f"{reason}\n".encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedSite(web.BaseSite):
    """A TCP site (aiohttp's `TCPSite`) whose connections pass `guard` first."""

    __slots__ = ("_guard", "_handshake", "_host", "_lingering", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: Admission,
        handshake_timeout: float,
        ssl_context: SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._guard, self._host, self._port = guard, host, port
        self._handshake = handshake_timeout
        self._lingering: set[_Gate] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard, lingering = self._guard, self._lingering
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Gate(guard, server, lingering),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=self._handshake if self._ssl_context else None,
        )
