"""The upload-only FTP server: aioftp's `Server` with atomic landing and every read command refused.

Files land in the directory the client STORs them to (inside the root); the bytes go to
`<root>/.staging` first and are linked into place only once the transfer completed cleanly.
A STOR to an existing name is refused (553): nothing is ever overwritten.

aioftp's decorators are typed for methods of `aioftp.Server` itself, hence the
`type: ignore[arg-type]` on the overridden, decorated commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from pathlib import PurePosixPath
from typing import Unpack

import aioftp
import structlog
from aioftp.common import Connection, StreamIO, ThrottleStreamIO
from aioftp.server import AsyncIOStartServerKwargs, ConnectionConditions, worker

from scrapyfleet.ftpsink.config import SinkConfig
from scrapyfleet.ftpsink.paths import PathRefused, existing_dir, landing_target, new_dir
from scrapyfleet.ftpsink.staging import STAGING_DIR, StagedFile, clear_staging
from scrapyfleet.ftpsink.transfer import Aborted, Upload, abort_reason, client_of, hung_up

log = structlog.get_logger("scrapyfleet.ftpsink")

# Upload-only: reading, listing, changing or resuming files is refused with 502.
REFUSED_COMMANDS = (
    "appe", "dele", "list", "mlsd", "mlst", "nlst", "rest", "retr", "rmd", "rnfr", "rnto", "site",
    "stou",
)  # fmt: skip


class SinkServer(aioftp.Server):
    """aioftp server that only accepts uploads and lands each one atomically."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.root = config.root.resolve()
        self.staging = self.root / STAGING_DIR
        timeout = config.idle_timeout or None
        super().__init__(
            users=self._users(),
            block_size=config.block_size,
            socket_timeout=timeout,  # bounds each data-connection read: a stalled upload aborts
            idle_timeout=timeout,
            data_ports=config.passive_ports,
            welcome_message="scrapyfleet ftpsink, upload-only",
        )
        self.commands_mapping.update(feat=self.feat, noop=self.noop, opts=self.opts)
        for command in REFUSED_COMMANDS:
            self.commands_mapping[command] = functools.partial(self.refuse, command)

    def _users(self) -> list[aioftp.User]:
        # Nothing here ever reads; aioftp's own read checks stay closed all the same.
        upload_only = [aioftp.Permission("/", readable=False, writable=True)]
        logins: list[tuple[str, str | None]] = list(self.config.users)
        if self.config.anonymous:
            logins.append(("anonymous", None))
        return [
            aioftp.User(name, password, base_path=self.root, permissions=upload_only)
            for name, password in logins
        ]

    async def start(
        self, host: str | None = None, port: int = 0, **kwargs: Unpack[AsyncIOStartServerKwargs]
    ) -> None:
        """Prepare the root and staging directory, then listen."""
        discarded = await asyncio.to_thread(clear_staging, self.staging)
        kwargs.setdefault("limit", self.config.block_size)
        await super().start(host, port, **kwargs)
        log.info("listening", host=self.server_host, port=self.server_port, root=str(self.root),
                 discarded=discarded)  # fmt: skip

    async def close(self) -> None:
        """Stop listening, abort in-flight uploads (nothing partial lands), close connections."""
        self.server.close()
        uploads = [task for conn in self.connections.values() for task in conn.extra_workers]
        for task in uploads:
            task.cancel("shutdown")
        if uploads:
            await asyncio.wait(uploads)
        await super().close()

    async def parse_command(
        self, stream: StreamIO, censor_commands: tuple[str] = ("pass",)
    ) -> tuple[str, str]:
        """aioftp's, except that a quiet control connection during an upload is not idle, and an
        idle or hung-up one ends the session like QUIT (aioftp would leave an exception behind)."""
        while True:
            try:
                return await super().parse_command(stream, censor_commands)
            except ConnectionResetError:
                return "quit", ""
            except TimeoutError:
                connection = self.connections[stream]  # type: ignore[index]
                if not connection.extra_workers:
                    log.info("idle_closed", client=client_of(connection))
                    return "quit", ""

    def _refuse(self, connection: Connection, command: str, code: str, reason: str) -> bool:
        log.info("refused", command=command.upper(), client=client_of(connection), reason=reason)
        connection.response(code, f"{command.upper()} refused: {reason}")
        return True

    async def refuse(self, command: str, connection: Connection, rest: str) -> bool:
        return self._refuse(connection, command, "502", "upload-only server")

    async def feat(self, connection: Connection, rest: str) -> bool:
        connection.response("211", ["features:", "EPSV", "PASV", "UTF8", "end"], True)
        return True

    async def noop(self, connection: Connection, rest: str) -> bool:
        connection.response("200", "ok")
        return True

    async def opts(self, connection: Connection, rest: str) -> bool:
        ok = rest.upper() == "UTF8 ON"
        connection.response(*(("200", "always in UTF8") if ok else ("501", "unknown option")))
        return True

    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def cwd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """Change directory without aioftp's read-permission check (Scrapy CWDs before STOR)."""
        _, virtual = self.get_paths(connection, rest)
        try:
            await asyncio.to_thread(existing_dir, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "CWD", exc.code, exc.reason)
        connection.current_directory = virtual
        connection.response("250", f'"{virtual}" is the current directory')
        return True

    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def mkd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """Make a directory; one that exists already is success, so concurrent MKDs never fail."""
        _, virtual = self.get_paths(connection, rest)
        try:
            await asyncio.to_thread(new_dir, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "MKD", exc.code, exc.reason)
        connection.response("257", f'"{virtual}" created')
        return True

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
        """Accept an upload to a free name inside the root (`mode` is aioftp's, APPE is refused)."""
        _, virtual = self.get_paths(connection, rest)
        try:
            target = await asyncio.to_thread(landing_target, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "STOR", exc.code, exc.reason)
        upload = Upload(str(virtual.relative_to("/")), target, client_of(connection))
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
            if not isinstance(exc, Aborted | OSError):
                raise  # cancellation (aioftp's @worker replies 426 + 226) or a bug
            connection.response(aborted.code, aborted.message)
            return
        landing = asyncio.ensure_future(asyncio.to_thread(staged.land, upload.target))
        landing.add_done_callback(
            functools.partial(self._report_landing, connection, upload, staged.size, started)
        )
        # Past the point of no return: if cancelled now, the landing finishes and reports itself.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(landing)

    async def _copy(self, stream: ThrottleStreamIO, staged: StagedFile) -> None:
        limit = self.config.max_file_size
        async for block in stream.iter_by_block(self.config.block_size):
            if limit and staged.size + len(block) > limit:
                raise Aborted("too_large", "552", f"upload exceeds the {limit}-byte limit")
            staged.write(block)

    def _report_landing(
        self,
        connection: Connection,
        upload: Upload,
        size: int,
        started: float,
        landing: asyncio.Future[None],
    ) -> None:
        exc = landing.exception()  # never cancelled: shielded
        if exc is None:
            seconds = round(time.monotonic() - started, 6)
            log.info("landed", name=upload.name, bytes=size, seconds=seconds, client=upload.client)
            connection.response("226", f"landed {upload.name}")
            return
        reason, code, message = (
            ("exists", "553", "file exists and is never overwritten")
            if isinstance(exc, FileExistsError)
            else ("error", "451", "local error, nothing stored")
        )
        log.warning("aborted", name=upload.name, reason=reason, bytes=size, client=upload.client,
                    error=repr(exc))  # fmt: skip
        connection.response(code, message)


def make_server(config: SinkConfig) -> SinkServer:
    """The sink for `config`; `await server.start(config.host, config.port)` to listen."""
    return SinkServer(config)


async def serve(config: SinkConfig, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then shut down cleanly (in-flight uploads aborted)."""
    server = make_server(config)
    await server.start(config.host, config.port)
    try:
        await stop.wait()
    finally:
        await server.close()
