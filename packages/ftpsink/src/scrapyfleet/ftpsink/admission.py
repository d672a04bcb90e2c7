"""Who gets a session: connection caps in total and per client address, and failed logins
counted per address across connections (vsftpd's delays, fail2ban's bans)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from scrapyfleet.core.waits import Backoff

MAX_BAN = 86_400.0  # seconds: a ban never grows past a day
MAX_TRACKED = 10_000  # addresses remembered at once; the stalest are forgotten first


class ConnectionCaps:
    """Counts open control connections; refuses one over the total or its address's cap."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total, self.per_address = total, per_address
        self.open: Counter[str] = Counter()

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`, or say why it is refused (and count nothing)."""
        if self.open.total() >= self.total:
            return f"server full ({self.total} connections)"
        if self.open[address] >= self.per_address:
            return f"too many connections from your address ({self.per_address})"
        self.open[address] += 1
        return None

    def leave(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


@dataclass
class Record:
    """One address's failed logins since it was last forgiven, and its bans."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one password check at a time
    failures: int = 0
    last_failure: float = 0.0
    bans: int = 0
    banned_until: float = 0.0


@dataclass(frozen=True)
class Failure:
    """What one more failed login from an address costs it."""

    failures: int  # the address's, this one included
    delay: float  # seconds before the reply
    ban: float  # seconds the address is now banned (0: not banned)


class LoginGuard:
    """Failed logins per client address, across connections and reconnections.

    Each failure delays the reply to it (`delay`, doubling with the address's failures); the
    `ban_after`-th bans the address for `ban_time`, doubling with each further ban (at most
    MAX_BAN); its failures are forgotten `ban_time` after the last one. A ban refuses every
    login from the address, the right password included, until it ends.
    """

    def __init__(
        self,
        delay: float,
        ban_after: int,
        ban_time: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delay, self.ban_after, self.ban_time, self.clock = delay, ban_after, ban_time, clock
        self.records: dict[str, Record] = {}

    def record(self, address: str) -> Record:
        """The address's record (its lock serialises the address's password checks)."""
        found = self.records.get(address)
        if found is None:
            self._forget_stale()
            found = self.records[address] = Record()
        return found

    def banned(self, address: str) -> float:
        """Seconds left of the address's ban (0: not banned)."""
        found = self.records.get(address)
        return max(0.0, found.banned_until - self.clock()) if found else 0.0

    def failed(self, address: str) -> Failure:
        """Count a failed login from `address`: its reply delay, and a ban if it is due."""
        found, now = self.record(address), self.clock()
        if now - found.last_failure > self.ban_time:
            found.failures = 0
        found.failures += 1
        found.last_failure = now
        self.records[address] = self.records.pop(address)  # the most recent offender last
        failure = Failure(found.failures, Backoff(self.delay, math.inf).delay(found.failures), 0.0)
        if found.failures >= self.ban_after:
            failure = replace(failure, ban=Backoff(self.ban_time, MAX_BAN).delay(found.bans + 1))
            found.bans += 1
            found.failures = 0
            found.banned_until = now + failure.ban
        return failure

    def _forget_stale(self) -> None:
        if len(self.records) < MAX_TRACKED:
            return
        now = self.clock()
        for address, found in list(self.records.items()):
            stale = now - found.last_failure > self.ban_time and now >= found.banned_until
            if stale and not found.lock.locked():
                del self.records[address]
        while len(self.records) >= MAX_TRACKED:
            del self.records[next(iter(self.records))]
