"""The site gate: a downloader middleware that holds a domain's requests as the master orders
(docs/architecture.md, "Site health and the domain budget"), in every job and in the master's
own crawl (the fleet add-on installs it; it is inactive in a crawl that is not the fleet's).

Each request waits here, just before the download, while its domain is held (the site is down,
or asked for a pause with `Retry-After`), while the domain's share of the fleet's budget is in
flight, or until its share of the fleet-wide delay has passed; a held request is not failed and
burns no attempt. It counts what each domain answered (ok, or a transient failure) for the next
renewal (`GateState.report`), and asks for that renewal early (`urgent`) when it sees a
`Retry-After`, a probe's answer, or a burst of failures (BURST in a row, or most answers since
the last renewal: it then holds the domain itself until the master's word on that burst). Once
the master gave a share, a domain new to the job waits for its own (the renewal is sent at once).
Given a probe, it lets one held request through. Told to give up (the site was down longer than
the retry window), it fails the domain's requests with `SiteDown`.
robots.txt requests pass untouched (ROBOTSTXT_OBEY).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from scrapyfleet.core.wakeups import Waiters
from scrapyfleet.crawler.outcomes import RETRY_AFTER_CAP, TRANSIENT_STATUSES, parse_retry_after
from scrapyfleet.crawler.sitewire import Probe, SiteCounts, SiteOrder

BURST = 20  # failures in a row of first tries (or since the last renewal, at FAILING share)
FAILING = 0.8
BURST_HOLD = 5.0  # seconds a burst holds the domain if the master says nothing
SITE_DOWN = "site down"


class SiteDown(IgnoreRequest):
    """The site was down longer than the retry window: the run gave it up."""


class DomainGate:
    """One domain's orders, requests in flight and answers since the last renewal."""

    def __init__(self, state: GateState) -> None:
        self.state = state
        self.hold_until = 0.0  # the master's hold (or a burst's, until its word)
        self.streak = 0  # first tries failed in a row (retries of a broken page add none)
        self.burst_until: float | None = None  # a burst's hold, until a report carries it
        self.quiet_until = 0.0  # a Retry-After this gate saw itself
        self.limit: int | None = None
        self.interval = 0.0
        self.last_start = float("-inf")
        self.inflight = 0
        self.held = 0  # requests waiting here now
        self.ok = self.failed = 0
        self.retry_after: float | None = None
        self.probe: Probe | None = None  # the granted probe's state
        self.granted = False
        self.give_up = False
        self._waiters = Waiters()

    async def enter(self) -> bool:
        """Wait for this domain's turn; whether the request is the probe."""
        self.held += 1
        try:
            return await self._turn()
        finally:
            self.held -= 1

    async def _turn(self) -> bool:
        loop = asyncio.get_running_loop()
        while True:
            if self.give_up:
                raise SiteDown(SITE_DOWN)
            now = loop.time()
            held = max(self.hold_until, self.quiet_until) - now
            if held > 0:
                if self.granted and self.probe is None and now >= self.quiet_until:
                    self.probe, self.inflight = "pending", self.inflight + 1
                    return True
                await self._waiters.wait(held)
            elif self.limit is not None and self.inflight >= self.limit:
                await self._waiters.wait(None)
            elif now < self.last_start + self.interval:
                await self._waiters.wait(self.last_start + self.interval - now)
            else:
                self.inflight, self.last_start = self.inflight + 1, now
                return False

    def leave(
        self, failed: bool | None, probe: bool, retry_after: float | None = None, first: bool = True
    ) -> None:
        """A request is done: answered (`failed`: transiently or not) or not (None); `first`:
        its first try, not one of Scrapy's retries."""
        self.inflight -= 1
        if failed is not None:
            self.ok, self.failed = self.ok + (not failed), self.failed + failed
            self.streak = (self.streak + first) if failed else 0
        now = asyncio.get_running_loop().time()
        if retry_after:
            seconds = min(retry_after, RETRY_AFTER_CAP)
            self.retry_after = max(self.retry_after or 0.0, seconds)
            self.quiet_until = max(self.quiet_until, now + seconds)
            self.state.urgent.set()
        if probe:
            self.probe = "failed" if failed in (True, None) else "ok"
            self.state.urgent.set()
        elif self.hold_until < now and (
            self.streak >= BURST or self.failed >= max(BURST, FAILING * (self.ok + self.failed))
        ):
            self._burst(now)
        self._waiters.wake(1)

    def _burst(self, now: float) -> None:
        """Hold the domain until the master's word on a report that carries the burst. The
        answers before the streak are not told: on a fast job they would outnumber it, and the
        master judges a site on what it answers now."""
        self.hold_until = self.burst_until = now + BURST_HOLD
        if self.streak >= BURST:
            self.ok = 0
        self.streak = 0  # should the master disagree, the next burst is another BURST
        self.state.urgent.set()

    def counts(self) -> SiteCounts:
        """What to tell the master, and start counting afresh."""
        probe = self.probe if self.granted else None
        counts = SiteCounts(self.ok, self.failed, max(0, self.inflight), self.retry_after, probe,
                            self.held)  # fmt: skip
        self.ok = self.failed = 0
        self.retry_after = None
        self.burst_until = None  # told: the answer to this report is the master's word on it
        if probe != "pending":
            self.granted, self.probe = False, None
        return counts

    def obey(self, order: SiteOrder) -> None:
        now = asyncio.get_running_loop().time()
        self.hold_until = max(now + order.hold, self.burst_until or 0.0)  # not on an older word
        self.limit, self.interval, self.give_up = order.concurrency, order.interval, order.give_up
        if order.probe and not self.granted:
            self.granted, self.probe = True, None
        self._waiters.wake()


class GateState:
    """Every domain's gate of one crawl; what its renewals carry."""

    def __init__(self) -> None:
        self.domains: dict[str, DomainGate] = {}
        self.urgent = asyncio.Event()
        self.budgeted = False  # the master gave a share: a new domain waits for its own

    def domain(self, name: str) -> DomainGate:
        gate = self.domains.get(name)
        if gate is None:
            gate = self.domains[name] = DomainGate(self)
            if self.budgeted:
                gate.limit = 0
                self.urgent.set()
        return gate

    def report(self) -> dict[str, SiteCounts]:
        """Each domain's counts since the last report (those with anything to say)."""
        self.urgent.clear()
        return {name: gate.counts() for name, gate in self.domains.items()}

    def obey(self, orders: dict[str, SiteOrder]) -> None:
        self.budgeted = self.budgeted or any(o.concurrency is not None for o in orders.values())
        for name, order in orders.items():
            self.domain(name).obey(order)

    async def next_report(self, interval: float) -> None:
        """Wait `interval` seconds, or less if something urgent came up."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.urgent.wait(), interval)


_STATES: weakref.WeakKeyDictionary[Crawler, GateState] = weakref.WeakKeyDictionary()


def gate_state(crawler: Crawler) -> GateState:
    """The gate state of `crawler` (shared by its gate and its side of the fleet)."""
    state = _STATES.get(crawler)
    if state is None:
        state = _STATES[crawler] = GateState()
    return state


def is_robots(request: Request) -> bool:
    return bool(request.meta.get("dont_obey_robotstxt")) and request.url.endswith("/robots.txt")


class SiteGate:
    """Downloader middleware (DOWNLOADER_MIDDLEWARES, near the downloader: it sees each try)."""

    def __init__(self, state: GateState) -> None:
        self.state = state
        self.inflight: dict[Request, tuple[DomainGate, bool]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        spider = crawler.spider
        worker = spider is not None and bool(getattr(spider, "batch", ""))
        if not worker and not crawler.settings.getlist("DISTRIBUTED_TARGET_HOSTS"):
            raise NotConfigured("not a crawl of the fleet")
        return cls(gate_state(crawler))

    async def process_request(self, request: Request) -> None:
        if is_robots(request):
            return
        gate = self.state.domain(urlparse_cached(request).hostname or "")
        probe = await gate.enter()
        self.inflight[request] = (gate, probe)

    def process_response(self, request: Request, response: Response) -> Response:
        entry = self.inflight.pop(request, None)
        if entry is not None:
            gate, probe = entry
            failed = response.status in TRANSIENT_STATUSES
            header = response.headers.get("Retry-After") if response.status in (429, 503) else None
            after = parse_retry_after(header.decode("latin-1")) if header else None
            gate.leave(failed, probe, after, first=not request.meta.get("retry_times"))
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        entry = self.inflight.pop(request, None)
        if entry is not None:
            gate, probe = entry
            failed = None if isinstance(exception, IgnoreRequest) else True
            gate.leave(failed, probe, first=not request.meta.get("retry_times"))
