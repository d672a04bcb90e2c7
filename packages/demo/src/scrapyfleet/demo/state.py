"""What the demo knows while it runs, gathered from the components' logs and Spark's output."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapyfleet.core.contracts import PROGRESS_FILE, SHIFTS_FILE, Events
from scrapyfleet.demo.tail import JsonTail


@dataclass(slots=True)
class NodeView:
    """One scrapyd node as the monitor last reported it."""

    up: bool = True
    pending: int = 0
    running: int = 0
    finished: int = 0
    reason: str = ""


@dataclass
class DemoState:
    """Crawl progress (master log), node status (monitor log) and the latest shift table."""

    total: int
    started_wall: float  # time.time() at the demo's start
    master_log: JsonTail
    monitor_log: JsonTail
    analytics_dir: Path
    batches_done: int = 0
    batches_total: int | None = None
    items: int = 0
    pages_per_second: float = 0.0
    eta_seconds: float | None = None
    nodes: dict[str, NodeView] = field(default_factory=dict)
    table: dict[str, Any] | None = None
    crawled: list[tuple[float, int]] = field(default_factory=list)  # (seconds, items) samples
    console_url: str | None = None  # the monitor's web console
    _table_mtime: float = 0.0

    def refresh(self) -> None:
        """Read whatever the components wrote since the last refresh."""
        for event in self.master_log.read():
            self._master_event(event)
        self.crawled.append((time.time() - self.started_wall, self.items))
        for event in self.monitor_log.read():
            self._monitor_event(event)
        self._read_table()

    @property
    def listings(self) -> int:
        """Listings counted by the latest shift table."""
        return int(self.table["listings"]) if self.table else 0

    @property
    def complete(self) -> bool:
        return self.listings >= self.total

    def _master_event(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == Events.PROGRESS:
            self.batches_done = int(event.get("batches_done", self.batches_done))
            if event.get("batches_final"):
                self.batches_total = int(event["batches_total"])
            self.items = int(event.get("items", self.items))
            self.pages_per_second = float(event.get("pages_per_second", 0.0))
            eta = event.get("eta_seconds")
            self.eta_seconds = float(eta) if eta is not None else None
        elif name == Events.RUN_SUMMARY:
            self.batches_done = int(event.get("batches_done", self.batches_done))
            self.batches_total = int(event.get("batches", self.batches_done))
            self.items = int(event.get("items", self.items))
            self.pages_per_second = float(event.get("pages_per_second") or 0.0)
            self.eta_seconds = 0.0

    def _monitor_event(self, event: dict[str, Any]) -> None:
        name, node = event.get("event"), event.get("node")
        if name == Events.WEB_CONSOLE:
            self.console_url = str(event.get("url"))
        if not isinstance(node, str):
            return
        view = self.nodes.setdefault(node, NodeView())
        if name == Events.NODE_STATUS:
            view.up, view.reason = True, ""
            view.pending = int(event.get("pending", 0))
            view.running = int(event.get("running", 0))
            view.finished = int(event.get("finished", 0))
        elif name == Events.NODE_UNREACHABLE:
            view.up, view.reason = False, str(event.get("reason", ""))

    def _read_table(self) -> None:
        path = self.analytics_dir / SHIFTS_FILE
        try:
            mtime = path.stat().st_mtime
            if mtime == self._table_mtime:
                return
            table = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # not written yet; files are replaced atomically, so never half-read
        self._table_mtime = mtime
        self.table = table


def progress_history(analytics_dir: Path) -> list[dict[str, Any]]:
    """Spark's `progress.json`: one entry per micro-batch (empty if not written yet)."""
    try:
        return list(json.loads((analytics_dir / PROGRESS_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def iso_seconds(stamp: str) -> float:
    """An ISO-8601 timestamp as seconds since the epoch."""
    return datetime.fromisoformat(stamp).timestamp()


def extremes(
    words: list[dict[str, Any]], n: int, min_count: int = 5
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `n` highest and `n` lowest (lowest first) shifts of words in >= `min_count` listings."""
    ranked = sorted((w for w in words if w["count"] >= min_count), key=lambda w: -w["shift"])
    return ranked[:n], ranked[::-1][:n]
