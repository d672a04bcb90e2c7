"""One upload's identity, its pace, and the ways it can end before landing."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aioftp.common import Connection, StreamIO

from scrapyfleet.ftpsink import replies
from scrapyfleet.ftpsink.replies import Reply

TCP_ESTABLISHED = 1  # first byte of Linux's struct tcp_info: the connection's state


class Aborted(Exception):
    """An upload given up before landing: why (as logged), and the reply the client gets."""

    def __init__(self, reason: str, reply: Reply) -> None:
        super().__init__(reason)
        self.reason, self.reply = reason, reply


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


@contextlib.asynccontextmanager
async def paced(seconds: float, min_rate: int) -> AsyncIterator[Callable[[int], None]]:
    """Cut the transfer inside (Aborted `stalled`) unless every span of `seconds` brings at
    least `min_rate` bytes a second, and at least one byte (curl's --speed-time/--speed-limit):
    a silent transfer and a trickle alike. Yields `progress(total_bytes)`; 0 seconds: no limit."""
    if not seconds:
        yield lambda total: None
        return
    quota = max(1, int(min_rate * seconds))
    loop = asyncio.get_running_loop()
    mark = 0

    def progress(total: int) -> None:
        nonlocal mark
        if total - mark >= quota:  # this span's due is met: the next span starts now
            mark = total
            window.reschedule(loop.time() + seconds)

    try:
        async with asyncio.timeout(seconds) as window:
            yield progress
    except TimeoutError:
        if not window.expired():
            raise
        raise Aborted("stalled", replies.too_slow(quota, seconds)) from None


def abort_reason(exc: BaseException) -> Aborted:
    """Classify why a transfer ended before landing."""
    if isinstance(exc, Aborted):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return Aborted(str(exc.args[0]) if exc.args else "disconnected", replies.ABORTED)
    if isinstance(exc, TimeoutError):
        return Aborted("stalled", replies.STALLED)
    if isinstance(exc, ConnectionError):
        return Aborted("reset", replies.RESET)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Aborted("disk_full", replies.DISK_FULL)
    return Aborted("error", replies.LOCAL_ERROR)
