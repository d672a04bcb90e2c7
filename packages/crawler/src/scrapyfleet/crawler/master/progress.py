"""Progress of a distributed crawl: a rich bar on a TTY (below the log lines, screen.py),
`progress` events otherwise."""

from __future__ import annotations

import time
from typing import Any

import structlog
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from scrapyfleet.core.contracts import Events
from scrapyfleet.crawler.master.screen import screen

log = structlog.get_logger("scrapyfleet.crawler.master.progress")


class ProgressReporter:
    """Called by the fleet every tick with its snapshot."""

    def __init__(self, rich_bar: bool, every: float = 2.0) -> None:
        self.started = time.monotonic()
        self.every = every
        self._last = 0.0
        self._bar: Progress | None = None
        self._task: Any = None
        if rich_bar:
            self._bar = Progress(
                TextColumn("[bold]batches"),
                BarColumn(),
                MofNCompleteColumn(),  # done/? while batches are still being made
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=screen(),  # the log lines' console: they scroll above the bar
            )
            self._bar.start()
            self._task = self._bar.add_task("crawl", total=None, detail="")

    def figures(self, snap: dict[str, Any]) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        done = snap["batches"].get("done", 0)
        total = snap["total"]
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = total - done - snap["batches"].get("failed", 0)
        eta = None if snap["intake_open"] or rate == 0 else round(remaining / rate, 1)
        return {
            "batches_done": done,
            "batches_total": total,
            "batches_final": not snap["intake_open"],
            "items": snap["items"],
            "pages_per_second": round(snap["pages"] / elapsed, 1) if elapsed > 0 else 0.0,
            "eta_seconds": eta,
            "nodes_up": sum(1 for n in snap["nodes"].values() if n["up"]),
        }

    def __call__(self, snap: dict[str, Any]) -> None:
        figures = self.figures(snap)
        if self._bar is not None:
            detail = (
                f"items {figures['items']}  {figures['pages_per_second']} pages/s  "
                f"ETA {figures['eta_seconds'] or '?'} s  nodes up {figures['nodes_up']}"
            )
            total = figures["batches_total"] if figures["batches_final"] else None
            self._bar.update(self._task, completed=figures["batches_done"], total=total,
                             detail=detail)  # fmt: skip
            return
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            log.info(Events.PROGRESS, **figures)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
