"""The master's word on every site: a holder's (a job's, or the master crawl's) counts in, its
orders out, from the site health (`sitehealth.py`) and the domain budget (`sitebudget.py`).
docs/architecture.md, "Site health and the domain budget"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Self
from urllib.parse import urlsplit

import structlog
from scrapy.settings import BaseSettings

from scrapyfleet.core.contracts import Events
from scrapyfleet.crawler.master.sitebudget import DomainBudget
from scrapyfleet.crawler.master.sitehealth import SiteHealth
from scrapyfleet.crawler.sitegate import GateState
from scrapyfleet.crawler.sitewire import SiteCounts, SiteOrder

log = structlog.get_logger("scrapyfleet.crawler.master.sites")

MASTER = "master"  # the holder name of the master's own crawl
MASTER_INTERVAL = 0.5  # seconds between the master crawl's words (it needs no HTTP call)
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")  # as urlsplit reads scheme and netloc


def domains(urls: Iterable[str]) -> set[str]:
    """The domains (host names, as Scrapy's download slots) of `urls`: each distinct origin
    (`scheme://authority`, a cheap match; the whole URL where it does not match) parsed once."""
    origins = {m.group() if (m := _ORIGIN.match(url)) else url for url in urls}
    return {urlsplit(origin).hostname or "" for origin in origins} - {""}


class Sites:
    """Site health and the domain budget, as the batch endpoint and the master crawl use them."""

    def __init__(self, give_up_after: float, concurrency: int | None, delay: float) -> None:
        self.health = SiteHealth(give_up_after, self._logged)
        self.budget = DomainBudget(concurrency, delay)

    @classmethod
    def from_settings(cls, s: BaseSettings) -> Self:
        return cls(s.getfloat("DISTRIBUTED_RETRY_WINDOW"),
                   s.getint("DISTRIBUTED_DOMAIN_CONCURRENCY") or None,
                   s.getfloat("DISTRIBUTED_DOMAIN_DELAY"))  # fmt: skip

    @staticmethod
    def _logged(event: str, domain: str, details: dict[str, Any]) -> None:
        level = log.info if event in (Events.SITE_UP, Events.SITE_SLOWED) else log.error
        level(event, domain=domain, **details)

    def exchange(self, holder: str, counts: dict[str, SiteCounts]) -> dict[str, SiteOrder]:
        """`holder`'s counts since its last word; its orders for every domain it crawls and
        every domain in trouble."""
        for domain, seen in counts.items():
            self.health.observe(holder, domain, seen)
            if self.budget.active:
                self.budget.heard(holder, domain, seen.inflight)
        wanted = set(counts) | set(self.health.troubled()) | set(self.budget.domains_of(holder))
        return {domain: self.order(holder, domain) for domain in sorted(wanted)}

    def grant(self, holder: str, urls: Iterable[str], retried: bool) -> dict[str, SiteOrder]:
        """The orders a job starts its batch of `urls` (`retried`: all failed before) with."""
        self.health.leased(holder, retried)
        return self.exchange(holder, {d: SiteCounts() for d in domains(urls)})

    def order(self, holder: str, domain: str) -> SiteOrder:
        verdict = self.health.verdict(holder, domain)
        concurrency, interval = (None, 0.0)
        if self.budget.active:
            concurrency, interval = self.budget.share(holder, domain)
        if verdict.ramp is not None:
            concurrency = verdict.ramp if concurrency is None else min(concurrency, verdict.ramp)
        return SiteOrder(verdict.hold, verdict.probe, concurrency, interval, verdict.give_up)

    def leave(self, holder: str, reason: str | None = None) -> None:
        """`holder` crawls nothing more; with a `reason` (it failed), its returned shares are
        logged."""
        if self.budget.leave(holder) and reason is not None:
            log.info("budget_share_returned", holder=holder, reason=reason)
        self.health.forget(holder)

    def check(self, lease_timeout: float) -> None:
        """Give up domains down too long; return the shares of holders unheard of too long."""
        self.health.check()
        for holder in self.budget.expire(lease_timeout):
            log.info("budget_share_returned", holder=holder, reason="unheard of")

    def snapshot(self) -> dict[str, Any]:
        """Domains down now, and the site events so far (for the summary and the metrics)."""
        return {"down": self.health.down(), "events": list(self.health.events)}

    async def feed(self, gate: GateState, lease_timeout: float) -> None:
        """The master crawl's own gate, told directly (until cancelled); and the periodic
        checks (`check`)."""
        gate.budgeted = self.budget.concurrency is not None  # its first request waits for a share
        while True:
            await gate.next_report(MASTER_INTERVAL)
            gate.obey(self.exchange(MASTER, gate.report()))
            self.check(lease_timeout)
