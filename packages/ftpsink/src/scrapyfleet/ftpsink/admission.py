"""Who gets a session: connection caps in total and per client address, and failed-login backoff."""

from __future__ import annotations

from collections import Counter


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


def login_delay(base: float, failures: int) -> float:
    """Seconds before replying to a connection's `failures`-th failed login: base, 2x, 4x..."""
    return base * 2.0 ** (failures - 1)
