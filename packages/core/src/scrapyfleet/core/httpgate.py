"""Connections let in or refused before aiohttp sees them: the asyncio side of `httpguard`.

`GuardedSite` is aiohttp's `TCPSite` with one difference: each accepted connection first asks an
`Admission` (the guard's connection caps); a refused one is answered `503` and closed at once,
without a request being read, so refused connections hold no descriptor; an admitted one goes to
aiohttp's own protocol unchanged. Over TLS a handshake gets `handshake_timeout` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from ssl import SSLContext
from typing import Protocol

from aiohttp import web

ProtocolFactory = Callable[[], asyncio.Protocol]


class Admission(Protocol):
    """Who counts connections: `admit` returns why one is refused, or None and counts it."""

    def admit(self, address: str) -> str | None: ...

    def release(self, address: str) -> None: ...


class _Gate(asyncio.Protocol):
    """One connection: refused with a 503 at once, or admitted and handed to aiohttp."""

    def __init__(self, guard: Admission, factory: ProtocolFactory) -> None:
        self._guard = guard
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self._address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        reason = self._guard.admit(self._address)
        if reason is not None:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_busy(reason))
            transport.close()
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._guard.release(self._address)
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

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

    __slots__ = ("_guard", "_handshake", "_host", "_port")

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

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self._guard
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Gate(guard, server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=self._handshake if self._ssl_context else None,
        )
