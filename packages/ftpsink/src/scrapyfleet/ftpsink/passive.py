"""Passive data ports: leased per transfer, and open to the control connection's peer only.

A PASV/EPSV leases a port from the pool (waiting up to `port_wait` when all are leased) and
listens on it. The first connection from the control connection's address becomes the data
connection (after a TLS handshake under PROT P) and the port goes back to the pool at once; a
connection from any other address is closed unused and logged (`data_connection_refused`). A
port nobody connects to within `accept_timeout` is freed too (`passive_expired`).
`PassiveServer` puts them under aioftp's PASV/EPSV through its `_start_passive_server` hook.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ssl
from collections.abc import Awaitable, Callable
from pathlib import PurePosixPath

import structlog
from aioftp.common import Connection
from aioftp.errors import NoAvailablePort

from scrapyfleet.ftpsink import tls
from scrapyfleet.ftpsink.ftps import FtpsServer
from scrapyfleet.ftpsink.transfer import client_of

log = structlog.get_logger("scrapyfleet.ftpsink")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class PortPool:
    """The passive ports (None: any free port, chosen by the kernel)."""

    def __init__(self, ports: range | None) -> None:
        self.size = len(ports) if ports is not None else 0
        self.free: asyncio.Queue[int] | None = None
        if ports is not None:
            self.free = asyncio.Queue()
            for port in ports:
                self.free.put_nowait(port)

    async def lease(self, wait: float) -> int:
        """A port (0: any); NoAvailablePort if none came free within `wait` seconds."""
        if self.free is None:
            return 0
        try:
            return await asyncio.wait_for(self.free.get(), wait)
        except TimeoutError:
            raise NoAvailablePort from None

    def give_back(self, port: int) -> None:
        if self.free is not None:
            self.free.put_nowait(port)

    def in_use(self) -> int:
        """Ports leased now (0 when the kernel picks them)."""
        return self.size - self.free.qsize() if self.free is not None else 0


class PassiveListener:
    """One PASV/EPSV listening socket, waiting for the data connection of one client."""

    def __init__(
        self,
        pool: PortPool,
        client: str,
        on_data: Handler,
        accept_timeout: float,
        tls_context: Callable[[], ssl.SSLContext | None],
    ) -> None:
        self.pool, self.client, self.on_data = pool, client, on_data
        self.client_host = client.rpartition(":")[0]
        self.accept_timeout = accept_timeout
        self.tls_context = tls_context  # asked at accept time: PROT P may come after PASV
        self.server: asyncio.Server | None = None
        self.port = 0
        self.expiry: asyncio.TimerHandle | None = None

    async def open(self, host: str, wait: float, limit: int) -> asyncio.Server:
        """Listen on a leased port of `host`; a port taken by someone else is skipped."""
        for _ in range(max(self.pool.size, 1)):
            port = await self.pool.lease(wait)
            try:
                self.server = await asyncio.start_server(self._accept, host, port, limit=limit)
            except BaseException as exc:  # cancellation included: the port must go back
                self.pool.give_back(port)
                if not isinstance(exc, OSError) or exc.errno != errno.EADDRINUSE or not port:
                    raise
                continue
            self.port = port
            self.expiry = asyncio.get_running_loop().call_later(self.accept_timeout, self._expire)
            return self.server
        raise NoAvailablePort

    def close(self) -> None:
        """Stop listening and return the port to the pool (idempotent)."""
        if self.expiry is not None:
            self.expiry.cancel()
        if self.server is not None:
            self.server.close()
            self.server = None
            self.pool.give_back(self.port)

    def _expire(self) -> None:
        log.info("passive_expired", client=self.client, port=self.port)
        self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_host, peer_port, *_ = writer.get_extra_info("peername")
        if self.server is None or peer_host != self.client_host:
            log.warning("data_connection_refused", peer=f"{peer_host}:{peer_port}",
                        client=self.client, port=self.port)  # fmt: skip
            writer.transport.abort()
            return
        self.close()  # one data connection per PASV: the port is free for the next client
        context = self.tls_context()
        if context is not None:
            try:
                await tls.upgrade(writer, context)
            except (ssl.SSLError, OSError, TimeoutError) as exc:
                log.warning("tls_failed", channel="data", client=self.client, error=repr(exc))
                writer.transport.abort()
                return
        await self.on_data(reader, writer)


class PassiveServer(FtpsServer):
    """aioftp's PASV/EPSV on leased ports, each open to its own client only."""

    ports: PortPool

    async def _start_passive_server(
        self, connection: Connection, handler_callback: Handler
    ) -> asyncio.Server:
        """aioftp's hook: listen on a leased port for the data connection of this client only."""
        listener = PassiveListener(
            self.ports, client_of(connection), handler_callback, self.config.accept_timeout,
            functools.partial(self._data_tls, connection),
        )  # fmt: skip
        try:
            server = await listener.open(
                connection.server_host, self.config.port_wait, self.config.block_size
            )
        except NoAvailablePort:  # aioftp answers 421
            log.warning("passive_ports_exhausted", client=client_of(connection),
                        ports=self.ports.size, waited=self.config.port_wait)  # fmt: skip
            raise
        connection._dispatcher.add_done_callback(lambda _: listener.close())
        return server

    def _forget_finished_listener(self, connection: Connection) -> None:
        """A listener that took its data connection or expired: the next PASV opens a new one."""
        passive = connection.future.passive_server
        if passive.done() and not passive.result().is_serving():
            del connection.passive_server

    async def pasv(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        self._forget_finished_listener(connection)
        return await super().pasv(connection, rest)

    async def epsv(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        self._forget_finished_listener(connection)
        return await super().epsv(connection, rest)
