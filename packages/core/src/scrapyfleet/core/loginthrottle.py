"""Failed logins counted per client address, like fail2ban: a growing delay, then a ban.

Pure bookkeeping (the caller passes the time); `httpguard` applies it to HTTP basic auth. An
address gets `free` failures within `window` seconds at full speed, then each further failure is
answered after a delay that doubles up to `max_delay`; at `ban_after` failures it is banned for
`ban` seconds, during which every attempt from it is refused unchecked (right password or not, so
a ban tells a guesser nothing). At most `remembered` addresses are tracked (the oldest forgotten).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from scrapyfleet.core.waits import Backoff

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LoginRules:
    """How many failures an address gets and what follows (seconds)."""

    free: int = 5
    delay: float = 0.5
    max_delay: float = 8.0
    ban_after: int = 20
    window: float = 600.0
    ban: float = 600.0
    remembered: int = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a failed login earns: a delay before the answer, or a ban of `banned` seconds."""

    failures: int
    delay: float = 0.0
    banned: float = 0.0


class LoginThrottle:
    """Failures and bans by client address."""

    def __init__(self, rules: LoginRules | None = None) -> None:
        self.rules = rules or LoginRules()
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # first, count
        self._bans: OrderedDict[str, float] = OrderedDict()  # address -> banned until

    def banned(self, address: str, now: float) -> float:
        """Seconds left of `address`'s ban (0 if it is not banned)."""
        until = self._bans.get(address)
        if until is None:
            return 0.0
        if now >= until:
            del self._bans[address]
            return 0.0
        return until - now

    def failed(self, address: str, now: float) -> Verdict:
        """Count one failed login from `address`."""
        r = self.rules
        first, count = self._failures.pop(address, (now, 0))
        if now - first > r.window:
            first, count = now, 0
        count += 1
        if count >= r.ban_after:
            _remember(self._bans, address, now + r.ban, r.remembered)
            return Verdict(count, banned=r.ban)
        _remember(self._failures, address, (first, count), r.remembered)
        if count <= r.free:
            return Verdict(count)
        return Verdict(count, delay=Backoff(r.delay, r.max_delay).delay(count - r.free))

    def succeeded(self, address: str) -> None:
        """A right login from `address`: its failures are forgotten."""
        self._failures.pop(address, None)


def _remember(table: OrderedDict[str, V], address: str, value: V, most: int) -> None:
    """Set `table[address]` as the newest entry, forgetting the oldest beyond `most`."""
    table[address] = value
    table.move_to_end(address)
    while len(table) > most:
        table.popitem(last=False)
