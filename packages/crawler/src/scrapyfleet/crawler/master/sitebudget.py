"""One politeness budget per domain for the whole fleet (docs/architecture.md, "Site health and
the domain budget").

`--domain-concurrency N`: at most N requests in flight to one domain across every holder (the
master's crawl and each job). The budget is divided evenly among the domain's holders (the
first `N % k` in join order get one more; with more holders than N the ones without a share
rotate every ROTATE seconds). A share is charged from the moment it is told until its holder
says (in its next renewal) that it keeps no more than a smaller one in flight, so the holders'
requests in flight never add up to more than N while shares move. A holder leaves with its
report, or when unheard for the lease timeout (a dead job returns its share). `--domain-delay S`:
each of k holders keeps `k * S` seconds between its requests. Pure logic, clock injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

ROTATE = 10.0  # seconds a share-less holder waits for its turn


@dataclass(slots=True)
class Holding:
    """One holder's part of one domain's budget."""

    since: float
    heard: float
    told: int = 0  # the share it was last told
    inflight: int = 0  # what it said it keeps in flight


class DomainBudget:
    """Divides each domain's concurrency (and delay) among the holders crawling it."""

    def __init__(
        self,
        concurrency: int | None,
        delay: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError("the domain concurrency must be at least 1")
        if delay < 0:
            raise ValueError("the domain delay must be >= 0")
        self.concurrency, self.delay, self.clock = concurrency, delay, clock
        self.domains: dict[str, dict[str, Holding]] = {}

    @property
    def active(self) -> bool:
        return self.concurrency is not None or self.delay > 0

    def heard(self, holder: str, domain: str, inflight: int) -> None:
        """`holder` crawls `domain` and keeps `inflight` requests in flight there."""
        now = self.clock()
        holding = self.domains.setdefault(domain, {}).setdefault(holder, Holding(now, now))
        holding.heard, holding.inflight = now, inflight

    def leave(self, holder: str) -> bool:
        """`holder` crawls nothing now (its batch is reported, or it died): its shares return;
        whether it held any."""
        held = [holdings.pop(holder, None) for holdings in self.domains.values()]
        return any(h is not None for h in held)

    def expire(self, timeout: float) -> list[str]:
        """Remove the holders unheard of for `timeout` seconds; their names."""
        now = self.clock()
        gone = {h for hs in self.domains.values() for h, v in hs.items() if now - v.heard > timeout}
        for holder in gone:
            self.leave(holder)
        return sorted(gone)

    def domains_of(self, holder: str) -> list[str]:
        return [d for d, holdings in self.domains.items() if holder in holdings]

    def _targets(self, holdings: dict[str, Holding], limit: int) -> dict[str, int]:
        order = sorted(holdings, key=lambda h: holdings[h].since)
        k = len(order)
        if k > limit:  # not all can have one: turns
            turn = int(self.clock() / ROTATE) % k
            order = order[turn:] + order[:turn]
        return {h: limit // k + (1 if i < limit % k else 0) for i, h in enumerate(order)}

    def share(self, holder: str, domain: str) -> tuple[int | None, float]:
        """`holder`'s concurrency (None: no budget) and interval for `domain`, now."""
        now = self.clock()
        holdings = self.domains.setdefault(domain, {})
        mine = holdings.setdefault(holder, Holding(now, now))
        interval = self.delay * len(holdings)
        if self.concurrency is None:
            return None, interval
        target = self._targets(holdings, self.concurrency)[holder]
        charged = sum(max(h.told, h.inflight) for name, h in holdings.items() if name != holder)
        mine.told = max(0, min(target, self.concurrency - charged))
        return mine.told, interval
