"""One upload's identity and the ways it can end before landing."""

from __future__ import annotations

import asyncio
import errno
import socket
from dataclasses import dataclass
from pathlib import Path

from aioftp.common import Connection, StreamIO

TCP_ESTABLISHED = 1  # first byte of Linux's struct tcp_info: the connection's state


class Aborted(Exception):
    """An upload given up before landing: why, and the reply the client gets."""

    def __init__(self, reason: str, code: str, message: str) -> None:
        super().__init__(reason)
        self.reason, self.code, self.message = reason, code, message


@dataclass(frozen=True)
class Upload:
    name: str  # as landed (a bare name in the root)
    target: Path
    client: str


def client_of(connection: Connection) -> str:
    return f"{connection.client_host}:{connection.client_port}"


def hung_up(stream: StreamIO) -> bool:
    """Has the peer closed this connection (FIN or RST)? Asks the kernel, which may know before
    the event loop has read the news."""
    if stream.reader.at_eof() or stream.writer.transport.is_closing():
        return True
    try:
        state = stream.writer.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_INFO, 1
        )[0]
    except OSError:
        return True
    return bool(state != TCP_ESTABLISHED)


def abort_reason(exc: BaseException) -> Aborted:
    """Classify why a transfer ended before landing."""
    if isinstance(exc, Aborted):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return Aborted(str(exc.args[0]) if exc.args else "disconnected", "426", "transfer aborted")
    if isinstance(exc, TimeoutError):
        return Aborted("idle_timeout", "426", "data connection idle too long")
    if isinstance(exc, ConnectionError):
        return Aborted("reset", "426", "data connection reset")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Aborted("disk_full", "452", "insufficient storage, nothing stored")
    return Aborted("error", "451", "local error, nothing stored")
