"""The upload-only FTP server: aioftp's `Server` with atomic landing and its defences.

Each concern lives in its own module; this one wires them into aioftp's hooks: sessions
(`sessions`, the base class: admission, the login deadline, USER/PASS; `admission`: connection
caps, failed logins per address and bans; `accounts`: who may log in), explicit FTPS (`tls`,
AUTH TLS / PBSZ / PROT), passive data ports (`passive`), names (`paths`), the free-space floor
(`space`), the upload itself (`staging`, `transfer`: its pace) and its receipt
(`scrapyfleet.core.receipts`).
Every refusal is a reply code plus a log event, never a traceback or a dropped connection.

aioftp's decorators are typed for methods of `aioftp.Server` itself, hence the
`type: ignore[arg-type]` on the overridden, decorated commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import time
from pathlib import PurePosixPath
from typing import Unpack

import structlog
from aioftp.common import Connection, StreamIO, ThrottleStreamIO
from aioftp.errors import NoAvailablePort
from aioftp.server import AsyncIOStartServerKwargs, ConnectionConditions, worker

from scrapyfleet.core import receipts
from scrapyfleet.core.metrics import Address, start_exporter
from scrapyfleet.ftpsink import tls
from scrapyfleet.ftpsink.accounts import Accounts
from scrapyfleet.ftpsink.admission import ConnectionCaps, LoginGuard
from scrapyfleet.ftpsink.config import SinkConfig
from scrapyfleet.ftpsink.metrics import SinkMetrics
from scrapyfleet.ftpsink.passive import Handler, PassiveListener, PortPool
from scrapyfleet.ftpsink.paths import PathRefused, landing_target, resolve_inside, root_dir
from scrapyfleet.ftpsink.sessions import BAD_ENCODING, TOO_LONG, SessionServer, state
from scrapyfleet.ftpsink.space import free_space_problem
from scrapyfleet.ftpsink.staging import STAGING_DIR, StagedFile, clear_staging
from scrapyfleet.ftpsink.transfer import Aborted, Upload, abort_reason, client_of, hung_up, paced

log = structlog.get_logger("scrapyfleet.ftpsink")

# Upload-only: reading, listing, changing or resuming files is refused with 502.
REFUSED_COMMANDS = (
    "appe", "dele", "list", "mlsd", "mlst", "nlst", "rest", "retr", "rmd", "rnfr", "rnto", "site",
    "stou",
)  # fmt: skip


class SinkServer(SessionServer):
    """aioftp server that only accepts uploads and lands each one atomically."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.root = config.root.resolve()
        self.staging = self.root / STAGING_DIR
        self.caps = ConnectionCaps(config.max_connections, config.max_connections_per_address)
        self.guard = LoginGuard(config.login_delay, config.ban_after, config.ban_time)
        self.ports = PortPool(config.passive_ports)
        self.metrics = SinkMetrics(lambda: self.caps.open.total(), self.ports.in_use)
        self.tls_context = tls.server_context(config.tls) if config.tls else None
        super().__init__(
            users=Accounts(config.users, config.anonymous_allowed, self.root),
            block_size=config.block_size,
            socket_timeout=config.stall_timeout or None,  # each data read, each reply written
            idle_timeout=config.idle_timeout or None,  # each command read
            wait_future_timeout=config.accept_timeout,  # STOR waiting for its data connection
            welcome_message="scrapyfleet ftpsink, upload-only",
        )
        self.commands_mapping.update(
            auth=self.auth, feat=self.feat, noop=self.noop, opts=self.opts,
            **{BAD_ENCODING: self.bad_encoding, TOO_LONG: self.too_long},
        )  # fmt: skip
        for command in REFUSED_COMMANDS:
            self.commands_mapping[command] = functools.partial(self.refuse, command)

    async def start(
        self, host: str | None = None, port: int = 0, **kwargs: Unpack[AsyncIOStartServerKwargs]
    ) -> None:
        """Prepare the root and staging directory, then listen."""
        discarded = await asyncio.to_thread(clear_staging, self.staging)
        kwargs.setdefault("limit", self.config.block_size)
        await super().start(host, port, **kwargs)
        log.info(
            "listening", host=self.server_host, port=self.server_port, root=str(self.root),
            discarded=discarded, tls=self.tls_context is not None,
            anonymous=self.config.anonymous_allowed, accounts=len(self.config.users),
            receipts=self.config.receipt_key is not None,
        )  # fmt: skip
        if self.config.receipt_key is None:
            log.warning("receipts_off", reason="no receipt key: 226 replies carry no receipt, "
                        "so nobody can confirm a landing")  # fmt: skip

    async def close(self) -> None:
        """Stop listening, abort in-flight uploads (nothing partial lands), close connections."""
        self.server.close()
        uploads = [task for conn in self.connections.values() for task in conn.extra_workers]
        for task in uploads:
            task.cancel("shutdown")
        if uploads:
            await asyncio.wait(uploads)
        await super().close()

    async def write_response(
        self, stream: StreamIO, code: str, lines: str = "", list: bool = False
    ) -> None:
        """aioftp's; after `234` (AUTH TLS) the control connection is upgraded to TLS before
        anything else is sent."""
        await super().write_response(stream, code, lines, list)
        if code == "234":
            await self._secure_control(stream)

    async def _secure_control(self, stream: StreamIO) -> None:
        connection = self.connections[stream]
        assert self.tls_context is not None, "234 is only sent with TLS configured"
        try:
            await tls.upgrade(stream.writer, self.tls_context)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            log.warning("tls_failed", channel="control", client=client_of(connection),
                        error=repr(exc))  # fmt: skip
            stream.writer.transport.abort()
            stream.reader.feed_eof()  # the pending command read ends the session like QUIT

    async def refuse(self, command: str, connection: Connection, rest: str) -> bool:
        return self._refuse(connection, command, "502", "upload-only server")

    async def feat(self, connection: Connection, rest: str) -> bool:
        secure = ["AUTH TLS", "PBSZ", "PROT"] if self.tls_context else []
        connection.response("211", ["features:", *secure, "EPSV", "PASV", "UTF8", "end"], True)
        return True

    async def noop(self, connection: Connection, rest: str) -> bool:
        connection.response("200", "ok")
        return True

    async def opts(self, connection: Connection, rest: str) -> bool:
        ok = rest.upper() == "UTF8 ON"
        connection.response(*(("200", "always in UTF8") if ok else ("501", "unknown option")))
        return True

    # -- explicit TLS (RFC 4217) ------------------------------------------------------------------
    async def auth(self, connection: Connection, rest: str) -> bool:
        """AUTH TLS: reply 234, then the TLS handshake (see `write_response`)."""
        if self.tls_context is None:
            return self._refuse(connection, "AUTH", "502", "TLS is not configured")
        if rest.upper() not in ("TLS", "TLS-C", "SSL"):
            return self._refuse(connection, "AUTH", "504", "only AUTH TLS is supported")
        if self._secure(connection):
            return self._refuse(connection, "AUTH", "503", "already on TLS")
        # Nothing may be read as plain text once the client has seen 234: its ClientHello follows.
        connection.command_connection.writer.transport.pause_reading()
        connection.response("234", "AUTH TLS ok, start the handshake")
        return True

    async def pbsz(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        if not self._secure(connection):
            return self._refuse(connection, "PBSZ", "503", "AUTH TLS first")
        connection.response("200", "PBSZ=0")
        return True

    async def prot(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """PROT P: data connections use TLS; PROT C: plain (refused when TLS is required)."""
        level = str(rest).upper()
        if not self._secure(connection):
            return self._refuse(connection, "PROT", "503", "AUTH TLS first")
        if level == "C" and self.config.require_tls:
            return self._refuse(connection, "PROT", "534", "TLS required on data connections")
        if level not in ("P", "C"):
            return self._refuse(connection, "PROT", "504", "only PROT P or PROT C")
        connection.protected = level == "P"
        connection.response("200", f"PROT {level} ok")
        return True

    def _data_tls(self, connection: Connection) -> ssl.SSLContext | None:
        return self.tls_context if state(connection, "protected", False) else None

    # -- passive data connections -----------------------------------------------------------------
    async def _start_passive_server(
        self, connection: Connection, handler_callback: Handler
    ) -> asyncio.Server:
        """Listen on a leased port for the data connection of this client only (`passive`)."""
        listener = PassiveListener(
            self.ports, client_of(connection), handler_callback, self.config.accept_timeout,
            functools.partial(self._data_tls, connection),
        )  # fmt: skip
        try:
            server = await listener.open(
                connection.server_host, self.config.port_wait, self.config.block_size
            )
        except NoAvailablePort:
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

    # -- directories: only the root ---------------------------------------------------------------
    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def cwd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """CWD to `/` (Scrapy CWDs before STOR) without aioftp's read-permission check; files land
        in the root only, so no other directory is entered."""
        _, virtual = self.get_paths(connection, rest)
        try:
            await asyncio.to_thread(root_dir, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "CWD", exc.code, exc.reason)
        connection.current_directory = virtual
        connection.response("250", f'"{virtual}" is the current directory')
        return True

    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def mkd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """Refused: files land in the root, where the analytics reads them."""
        _, virtual = self.get_paths(connection, rest)
        try:
            await asyncio.to_thread(resolve_inside, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "MKD", exc.code, exc.reason)
        return self._refuse(connection, "MKD", "550", "files land in / only: no subdirectories")

    # -- uploads ----------------------------------------------------------------------------------
    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def abor(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """aioftp's ABOR, tagging the cancellation so the upload is logged as aborted by `abor`."""
        uploads = list(connection.extra_workers)
        for task in uploads:
            task.cancel("abor")
        if not uploads:
            connection.response("226", "nothing to abort")
        return True

    @ConnectionConditions(  # type: ignore[arg-type]
        ConnectionConditions.login_required, ConnectionConditions.passive_server_started
    )
    async def stor(
        self, connection: Connection, rest: str | PurePosixPath, mode: str = "wb"
    ) -> bool:
        """Accept an upload to a free name the analytics reads, in the root, with enough free
        space (`mode` is aioftp's, APPE is refused). A refusal takes no byte."""
        try:
            if self.config.require_tls and self._data_tls(connection) is None:
                raise PathRefused("521", "TLS required on data connections: PROT P first")
            target = await asyncio.to_thread(
                landing_target, self.root, connection.current_directory, str(rest)
            )
            problem = await asyncio.to_thread(free_space_problem, self.root, self.config.min_free)
            if problem is not None:
                raise PathRefused("452", problem)
        except PathRefused as exc:
            if connection.future.data_connection.done():
                connection.data_connection.close()
                del connection.data_connection
            return self._refuse(connection, "STOR", exc.code, exc.reason)
        upload = Upload(target.name, target, client_of(connection))
        receive = self._receive(connection, upload)
        connection.extra_workers.add(asyncio.create_task(receive))  # type: ignore[arg-type]
        connection.response("150", "data transfer started")
        return True

    @ConnectionConditions(
        ConnectionConditions.data_connection_made,
        wait=True,
        fail_code="425",
        fail_info="can't open data connection",
    )
    @worker  # type: ignore[arg-type]
    async def _receive(self, connection: Connection, upload: Upload) -> None:
        """Copy the data connection into a staging file; land it if the transfer ended cleanly."""
        stream: ThrottleStreamIO = connection.data_connection
        del connection.data_connection
        started = time.monotonic()
        staged = StagedFile(self.staging)
        try:
            async with stream:
                await self._copy(stream, staged)
            await asyncio.to_thread(staged.sync)
            # A killed client closes both connections, and EOF on data alone looks complete.
            if hung_up(connection.command_connection):
                raise Aborted("client_gone", "426", "control connection closed")
        except BaseException as exc:
            # Synchronous on purpose: cleanup must finish even while the task is being cancelled.
            staged.discard()
            aborted = abort_reason(exc)
            log.warning("aborted", name=upload.name, reason=aborted.reason, bytes=staged.size,
                        client=upload.client)  # fmt: skip
            self.metrics.aborted()
            if not isinstance(exc, Aborted | OSError):
                raise  # cancellation (aioftp's @worker replies 426 + 226) or a bug
            connection.response(aborted.code, aborted.message)
            return
        landing = asyncio.ensure_future(asyncio.to_thread(staged.land, upload.target))
        landing.add_done_callback(
            functools.partial(self._report_landing, connection, upload, staged, started)
        )
        # Past the point of no return: if cancelled now, the landing finishes and reports itself.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(landing)

    async def _copy(self, stream: ThrottleStreamIO, staged: StagedFile) -> None:
        limit = self.config.max_file_size
        async with paced(self.config.stall_timeout, self.config.min_rate) as progress:
            async for block in stream.iter_by_block(self.config.block_size):
                if limit and staged.size + len(block) > limit:
                    raise Aborted("too_large", "552", f"upload exceeds the {limit}-byte limit")
                problem = free_space_problem(self.root, self.config.min_free, len(block))
                if problem is not None:
                    raise Aborted("disk_full", "452", f"{problem}, nothing stored")
                staged.write(block)
                progress(staged.size)

    def _report_landing(
        self,
        connection: Connection,
        upload: Upload,
        staged: StagedFile,
        started: float,
        landing: asyncio.Future[None],
    ) -> None:
        exc = landing.exception()  # never cancelled: shielded
        size, lines, key = staged.size, staged.lines, self.config.receipt_key
        if exc is None:
            seconds = round(time.monotonic() - started, 6)
            log.info("landed", name=upload.name, bytes=size, lines=lines, seconds=seconds,
                     client=upload.client, receipt=key is not None)  # fmt: skip
            self.metrics.landed(size)
            receipt = f"; {receipts.sign(key, upload.name, size, lines)}" if key else ""
            connection.response("226", f"landed {upload.name}{receipt}")
            return
        reason, code, message = (
            ("exists", "553", "file exists and is never overwritten")
            if isinstance(exc, FileExistsError)
            else ("error", "451", "local error, nothing stored")
        )
        log.warning("aborted", name=upload.name, reason=reason, bytes=size, client=upload.client,
                    error=repr(exc))  # fmt: skip
        self.metrics.aborted()
        connection.response(code, message)


def make_server(config: SinkConfig) -> SinkServer:
    """The sink for `config`; `await server.start(config.host, config.port)` to listen."""
    return SinkServer(config)


async def serve(config: SinkConfig, stop: asyncio.Event, metrics: Address | None = None) -> None:
    """Serve until `stop` is set, then shut down cleanly (in-flight uploads aborted); with
    `metrics`, its Prometheus metrics there."""
    server = make_server(config)
    await server.start(config.host, config.port)
    exporter = start_exporter(metrics, server.metrics.registry) if metrics else None
    if exporter is not None:
        log.info("metrics_serving", url=exporter.url)
    try:
        await stop.wait()
    finally:
        await server.close()
        if exporter is not None:
            exporter.close()
