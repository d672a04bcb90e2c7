"""Sessions: who gets one and keeps it. Admission at connect (a banned address, connection caps:
`421`), the login deadline (`--login-timeout`), idle and unparsable command lines, and USER/PASS
with failed logins counted per client address (`admission.LoginGuard`).

The base of every command module (`ftps`, `passive`, `uploads`) and of `server.SinkServer`, which
sets the attributes declared here. aioftp's decorators are typed for methods of `aioftp.Server`
itself, hence the `type: ignore[arg-type]` on the overridden, decorated commands.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioftp
import structlog
from aioftp.common import Connection, StreamIO
from aioftp.server import ConnectionConditions

from scrapyfleet.ftpsink import replies, tls
from scrapyfleet.ftpsink.admission import ConnectionCaps, LoginGuard
from scrapyfleet.ftpsink.config import SinkConfig
from scrapyfleet.ftpsink.metrics import SinkMetrics
from scrapyfleet.ftpsink.replies import Refusal
from scrapyfleet.ftpsink.transfer import client_of

log = structlog.get_logger("scrapyfleet.ftpsink")

# Pseudo-commands for lines that cannot be parsed (a space: no client can send these names).
BAD_ENCODING, TOO_LONG = "bad encoding", "line too long"


def state(connection: Connection, name: str, default: Any) -> Any:
    """A value the sink keeps on aioftp's connection (futures underneath), or `default`."""
    return connection[name].result() if name in connection and connection[name].done() else default


class SessionServer(aioftp.Server):
    """aioftp's sessions with the sink's admission, deadlines and login rules."""

    config: SinkConfig
    caps: ConnectionCaps
    guard: LoginGuard
    metrics: SinkMetrics

    # -- sessions ---------------------------------------------------------------------------------
    async def dispatcher(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """aioftp's session, unless the client's address is banned or the server or the address
        is at its connection cap (then `421` at once)."""
        host, port, *_ = writer.get_extra_info("peername")
        ban = self.guard.banned(host)
        refusal = f"address banned for failed logins, {ban:.0f} s left" if ban else None
        refusal = refusal or self.caps.admit(host)
        if refusal is not None:
            log.warning("connection_refused", client=f"{host}:{port}", reason=refusal)
            writer.write(replies.not_admitted(refusal).line())
            writer.close()
            return
        try:
            await super().dispatcher(reader, writer)
        except asyncio.CancelledError:
            pass  # shutdown; a cancelled task would make asyncio's stream callback log an error
        finally:
            self.caps.leave(host)

    async def parse_command(
        self, stream: StreamIO, censor_commands: tuple[str] = ("pass",)
    ) -> tuple[str, str]:
        """aioftp's, except that a session not logged in by its login deadline ends (`421`), a
        quiet control connection during an upload is not idle, an idle or hung-up one ends the
        session like QUIT, and a line that is not UTF-8 or too long gets a reply (aioftp would
        leave an exception behind and drop the connection)."""
        connection = self.connections[stream]
        while True:
            try:
                async with asyncio.timeout_at(self._login_deadline(connection)) as login:
                    return await super().parse_command(stream, censor_commands)
            except ConnectionResetError:
                return "quit", ""
            except UnicodeDecodeError:
                return BAD_ENCODING, ""
            except ValueError:  # StreamReader: line over the limit (the buffer is dropped)
                return TOO_LONG, ""
            except TimeoutError:
                if login.expired() and connection.future.logged.done():
                    continue  # logged in while this read waited: no deadline any more
                if login.expired():
                    log.info("login_timeout", client=client_of(connection),
                             seconds=self.config.login_timeout)  # fmt: skip
                    connection.response(*replies.LOGIN_TIMEOUT)
                    return "quit", ""
                if not connection.extra_workers:
                    log.info("idle_closed", client=client_of(connection))
                    return "quit", ""

    def _login_deadline(self, connection: Connection) -> float | None:
        """When the session must be logged in by (loop time; None: logged in, or no deadline)."""
        if connection.future.logged.done() or not self.config.login_timeout:
            return None
        deadline = state(connection, "login_deadline", None)
        if deadline is None:  # the session's first command read starts as the session does
            deadline = asyncio.get_running_loop().time() + self.config.login_timeout
            connection.login_deadline = deadline
        return float(deadline)

    def _refuse(self, connection: Connection, command: str, refusal: Refusal) -> bool:
        """Log and send `refusal` of `command`; the session goes on."""
        log.info("refused", command=command.upper(), client=client_of(connection),
                 reason=refusal.reason)  # fmt: skip
        if command.lower() == "stor":
            self.metrics.refused()
        connection.response(*refusal.reply(command))
        return True

    async def bad_encoding(self, connection: Connection, rest: str) -> bool:
        return self._refuse(connection, "?", replies.NOT_UTF8)

    async def too_long(self, connection: Connection, rest: str) -> bool:
        self._refuse(connection, "?", replies.LINE_TOO_LONG)
        return False

    # -- logins -----------------------------------------------------------------------------------
    def _secure(self, connection: Connection) -> bool:
        return tls.is_secure(connection.command_connection.writer)

    async def user(self, connection: Connection, rest: str) -> bool:
        """aioftp's USER (every name but anonymous gets 331), refused on a plain connection when
        TLS is required."""
        if self.config.require_tls and not self._secure(connection):
            return self._refuse(connection, "USER", replies.LOGIN_NEEDS_TLS)
        connection.login_name = rest
        return await super().user(connection, rest)

    @ConnectionConditions(ConnectionConditions.user_required)  # type: ignore[arg-type]
    async def pass_(self, connection: Connection, rest: str) -> bool:
        """Check a password, one at a time per client address; failures (unknown name or wrong
        password alike) are logged and counted per address (`LoginGuard`: a growing delay, then
        a ban), and the connection is closed after `max_login_failures` or at a ban."""
        lock = state(connection, "login_lock", None)
        if lock is None:
            lock = connection.login_lock = asyncio.Lock()
        async with lock:  # pipelined PASS commands wait their turn (and their delay)
            if connection.future.logged.done():
                connection.response(*replies.ALREADY_LOGGED_IN)
                return True
            host, user = connection.client_host, connection.login_name[:64]
            async with self.guard.record(host).lock:
                if self.guard.banned(host):
                    log.warning("login_refused", user=user, client=client_of(connection),
                                reason="banned")  # fmt: skip
                    connection.response(*replies.BANNED)
                    return False
                started = time.monotonic()
                if await self.user_manager.authenticate(connection.user, rest):
                    connection.logged = True
                    log.info("logged_in", user=user, client=client_of(connection))
                    connection.response(*replies.LOGGED_IN)
                    return True
                failure = self.guard.failed(host)
            failures = state(connection, "login_failures", 0) + 1
            connection.login_failures = failures
            closing = failures >= self.config.max_login_failures or failure.ban > 0
            log.warning(
                "login_failed", user=user, client=client_of(connection), failures=failures,
                address_failures=failure.failures, closing=closing,
            )  # fmt: skip
            if failure.ban:
                log.warning("banned", address=host, seconds=failure.ban,
                            failures=failure.failures)  # fmt: skip
            await asyncio.sleep(max(0.0, started + failure.delay - time.monotonic()))
            del connection.user
            connection.response(*replies.login_incorrect(closing))
            return not closing
