"""The upload: STOR checks the name, TLS and free space before taking a byte, the data connection
is copied into a staging file at a pace (`transfer.paced`), and only a clean end of transfer lands
it (`staging.StagedFile.land`) and replies `226 landed NAME` with its receipt (`core.receipts`).
ABOR, a reset, a stall, the size limit, a full disk, a vanished client or shutdown land nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from pathlib import Path, PurePosixPath

import structlog
from aioftp.common import Connection, ThrottleStreamIO
from aioftp.server import ConnectionConditions, worker

from scrapyfleet.core import receipts
from scrapyfleet.core.contracts import Events
from scrapyfleet.ftpsink import replies
from scrapyfleet.ftpsink.ftps import FtpsServer
from scrapyfleet.ftpsink.paths import PathRefused, landing_target
from scrapyfleet.ftpsink.space import free_space_problem
from scrapyfleet.ftpsink.staging import StagedFile
from scrapyfleet.ftpsink.transfer import Aborted, Upload, abort_reason, client_of, hung_up, paced

log = structlog.get_logger("scrapyfleet.ftpsink")


class UploadServer(FtpsServer):
    """aioftp's STOR and ABOR, landing each upload whole or not at all."""

    root: Path  # resolved
    staging: Path

    @ConnectionConditions(ConnectionConditions.login_required)  # type: ignore[arg-type]
    async def abor(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        """aioftp's ABOR, tagging the cancellation so the upload is logged as aborted by `abor`."""
        uploads = list(connection.extra_workers)
        for task in uploads:
            task.cancel("abor")
        if not uploads:
            connection.response(*replies.NOTHING_TO_ABORT)
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
                raise PathRefused(replies.DATA_NEEDS_TLS)
            target = await asyncio.to_thread(
                landing_target, self.root, connection.current_directory, str(rest)
            )
            problem = await asyncio.to_thread(free_space_problem, self.root, self.config.min_free)
            if problem is not None:
                raise PathRefused(replies.no_space(problem))
        except PathRefused as exc:
            if connection.future.data_connection.done():
                connection.data_connection.close()
                del connection.data_connection
            return self._refuse(connection, "STOR", exc.refusal)
        upload = Upload(target.name, target, client_of(connection))
        receive = self._receive(connection, upload)
        connection.extra_workers.add(asyncio.create_task(receive))  # type: ignore[arg-type]
        connection.response(*replies.STARTED)
        return True

    @ConnectionConditions(
        ConnectionConditions.data_connection_made,
        wait=True,
        fail_code=replies.NO_DATA_CONNECTION.code,
        fail_info=replies.NO_DATA_CONNECTION.text,
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
                raise Aborted("client_gone", replies.CLIENT_GONE)
        except BaseException as exc:
            # Synchronous on purpose: cleanup must finish even while the task is being cancelled.
            staged.discard()
            aborted = abort_reason(exc)
            self._log_aborted(upload, aborted, staged.size)
            if not isinstance(exc, Aborted | OSError):
                raise  # cancellation (aioftp's @worker replies 426 + 226) or a bug
            connection.response(*aborted.reply)
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
                    raise Aborted("too_large", replies.too_large(limit))
                problem = free_space_problem(self.root, self.config.min_free, len(block))
                if problem is not None:
                    raise Aborted("disk_full", replies.filled_up(problem))
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
            log.info(Events.LANDED, name=upload.name, bytes=size, lines=lines, seconds=seconds,
                     client=upload.client, receipt=key is not None)  # fmt: skip
            self.metrics.landed(size)
            receipt = receipts.sign(key, upload.name, size, lines) if key else None
            connection.response(*replies.landed(upload.name, receipt))
            return
        aborted = (
            Aborted("exists", replies.NAME_TAKEN)
            if isinstance(exc, FileExistsError)
            else Aborted("error", replies.LOCAL_ERROR)
        )
        self._log_aborted(upload, aborted, size, error=repr(exc))
        connection.response(*aborted.reply)

    def _log_aborted(self, upload: Upload, aborted: Aborted, size: int, **error: str) -> None:
        """The `aborted` event and count of an upload that ended without landing."""
        log.warning("aborted", name=upload.name, reason=aborted.reason, bytes=size,
                    client=upload.client, **error)  # fmt: skip
        self.metrics.aborted()
