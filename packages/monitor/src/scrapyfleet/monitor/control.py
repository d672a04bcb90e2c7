"""The console's control side, wired together: the state database, crawl definitions and runs,
their stats, timers, alert rules, console events and the audit log; `run` ticks them about once
a second (settle ended runs, sample live ones, fire due timers, check rules)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import structlog

from scrapyfleet.monitor.audit import Audit
from scrapyfleet.monitor.daemon import Event
from scrapyfleet.monitor.definitions import Definitions
from scrapyfleet.monitor.events import ConsoleEvents
from scrapyfleet.monitor.rules import Rules
from scrapyfleet.monitor.runs import Runs
from scrapyfleet.monitor.runstats import RunStats
from scrapyfleet.monitor.sources import SourceOptions, Sources
from scrapyfleet.monitor.store import Store
from scrapyfleet.monitor.timers import Timers

TICK = 1.0  # seconds between control ticks

log = structlog.get_logger("scrapyfleet.monitor.control")


@dataclass(frozen=True, slots=True)
class ControlOptions:
    """Where the state lives and which crawl-master runs crawls."""

    state_dir: Path
    crawl_master: str
    tick: float = TICK


class Control:
    def __init__(
        self,
        options: ControlOptions,
        session: aiohttp.ClientSession,
        timeout: float,
        notify: Callable[[Event], None],
        nodes: Callable[[], Mapping[str, bool]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.nodes = nodes
        self.store = Store(options.state_dir)
        self.events = ConsoleEvents(self.store, clock)
        self.audit = Audit(self.store, clock)
        self.definitions = Definitions(self.store)
        self.runs = Runs(self.store, self.events, options.crawl_master, clock)
        sources = Sources(SourceOptions(), session, timeout)
        self.stats = RunStats(self.store, sources, clock)
        self.runs.on_end = self.stats.ended
        self.timers = Timers(self.store, self.definitions, self.runs, self.events, clock)
        self.rules = Rules(
            self.store, self.definitions, self.runs, self.events, self.audit, notify, clock
        )

    async def tick(self) -> None:
        live = self.runs.refresh()
        await self.stats.sample([r for r in map(self.runs.get, live) if r and r["metrics"]])
        self.timers.tick()
        figures = {run: self.stats.latest[run] for run in live if run in self.stats.latest}
        self.rules.check(figures, self.nodes())

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set; a tick that fails is logged and the next one goes on."""
        log.info("console_control", state_dir=str(self.options.state_dir),
                 crawl_master=self.options.crawl_master)  # fmt: skip
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.tick()
            except Exception as e:
                log.error("control_tick_failed", error=f"{type(e).__name__}: {e}")
            delay = max(0.0, self.options.tick - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    def close(self) -> None:
        self.store.close()
