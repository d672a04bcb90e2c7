"""Explicit FTPS commands (RFC 4217): AUTH TLS upgrades the control connection, PBSZ and PROT
choose whether data connections use TLS (`--require-tls`: PROT P only). The TLS context and the
handshake itself are `tls`'s.
"""

from __future__ import annotations

import ssl
from pathlib import PurePosixPath

import structlog
from aioftp.common import Connection, StreamIO

from scrapyfleet.ftpsink import replies, tls
from scrapyfleet.ftpsink.sessions import SessionServer, state
from scrapyfleet.ftpsink.transfer import client_of

log = structlog.get_logger("scrapyfleet.ftpsink")


class FtpsServer(SessionServer):
    """aioftp's sessions with AUTH TLS, PBSZ and PROT (no TLS context: AUTH is refused)."""

    tls_context: ssl.SSLContext | None

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

    async def auth(self, connection: Connection, rest: str) -> bool:
        """AUTH TLS: reply 234, then the TLS handshake (see `write_response`)."""
        if self.tls_context is None:
            return self._refuse(connection, "AUTH", replies.TLS_OFF)
        if rest.upper() not in ("TLS", "TLS-C", "SSL"):
            return self._refuse(connection, "AUTH", replies.ONLY_AUTH_TLS)
        if self._secure(connection):
            return self._refuse(connection, "AUTH", replies.ALREADY_TLS)
        # Nothing may be read as plain text once the client has seen 234: its ClientHello follows.
        connection.command_connection.writer.transport.pause_reading()
        connection.response("234", "AUTH TLS ok, start the handshake")
        return True

    async def pbsz(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        if not self._secure(connection):
            return self._refuse(connection, "PBSZ", replies.AUTH_FIRST)
        connection.response("200", "PBSZ=0")
        return True

    async def prot(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """PROT P: data connections use TLS; PROT C: plain (refused when TLS is required)."""
        level = str(rest).upper()
        if not self._secure(connection):
            return self._refuse(connection, "PROT", replies.AUTH_FIRST)
        if level == "C" and self.config.require_tls:
            return self._refuse(connection, "PROT", replies.PROT_C_REFUSED)
        if level not in ("P", "C"):
            return self._refuse(connection, "PROT", replies.ONLY_PROT_P_OR_C)
        connection.protected = level == "P"
        connection.response("200", f"PROT {level} ok")
        return True

    def _data_tls(self, connection: Connection) -> ssl.SSLContext | None:
        """The context for this session's data connections (None: plain, until PROT P)."""
        return self.tls_context if state(connection, "protected", False) else None
