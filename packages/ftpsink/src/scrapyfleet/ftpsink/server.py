"""The upload-only FTP(S) server: aioftp's `Server` assembled from the sink's command modules.

Its contract is described in docs/architecture.md ("ftpsink: the ingest contract"); its replies
are held in `replies`. Layers, each over aioftp's own hooks: `sessions` (admission, the login
deadline, USER/PASS; `admission`, `accounts`), `ftps` (AUTH TLS, PBSZ, PROT; `tls`), `passive`
(data ports), `uploads` (STOR/ABOR; `paths`, `space`, `staging`, `transfer`). This module adds
the upload-only command table, the root as the only directory, start and shutdown.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import PurePosixPath
from typing import Unpack

import structlog
from aioftp.common import Connection
from aioftp.server import AsyncIOStartServerKwargs, ConnectionConditions

from scrapyfleet.core.metrics import Address, start_exporter
from scrapyfleet.ftpsink import replies, tls
from scrapyfleet.ftpsink.accounts import Accounts
from scrapyfleet.ftpsink.admission import ConnectionCaps, LoginGuard
from scrapyfleet.ftpsink.config import SinkConfig
from scrapyfleet.ftpsink.metrics import SinkMetrics
from scrapyfleet.ftpsink.passive import PassiveServer, PortPool
from scrapyfleet.ftpsink.paths import PathRefused, resolve_inside, root_dir
from scrapyfleet.ftpsink.sessions import BAD_ENCODING, TOO_LONG
from scrapyfleet.ftpsink.staging import STAGING_DIR, clear_staging
from scrapyfleet.ftpsink.uploads import UploadServer

log = structlog.get_logger("scrapyfleet.ftpsink")

# Upload-only: reading, listing, changing or resuming files is refused with 502.
REFUSED_COMMANDS = (
    "appe", "dele", "list", "mlsd", "mlst", "nlst", "rest", "retr", "rmd", "rnfr", "rnto", "site",
    "stou",
)  # fmt: skip


class SinkServer(UploadServer, PassiveServer):
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
            welcome_message=replies.WELCOME,
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

    async def refuse(self, command: str, connection: Connection, rest: str) -> bool:
        return self._refuse(connection, command, replies.UPLOAD_ONLY)

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

    # -- directories: only the root ---------------------------------------------------------------
    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def cwd(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """CWD to `/` (Scrapy CWDs before STOR) without aioftp's read-permission check; files land
        in the root only, so no other directory is entered."""
        _, virtual = self.get_paths(connection, rest)
        try:
            await asyncio.to_thread(root_dir, self.root, virtual)
        except PathRefused as exc:
            return self._refuse(connection, "CWD", exc.refusal)
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
            return self._refuse(connection, "MKD", exc.refusal)
        return self._refuse(connection, "MKD", replies.NO_DIRECTORY)


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
