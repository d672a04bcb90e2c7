"""What the demo knows while it runs: the monitor's snapshot (`/snapshot.json`: the crawl's
progress from crawl-master's metrics, each node's from the monitor's polls) and Spark's output."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapyfleet.core.contracts import PROGRESS_FILE, SHIFTS_FILE

SNAPSHOT_TIMEOUT = 2.0  # seconds a read of the monitor's snapshot may take


@dataclass(slots=True)
class NodeView:
    """One scrapyd node as the monitor last reported it."""

    up: bool = True
    pending: int = 0
    running: int = 0
    finished: int = 0
    reason: str = ""


def read_snapshot(console_url: str) -> dict[str, Any] | None:
    """The monitor's latest snapshot; None while it has none (or does not answer)."""
    try:
        with urllib.request.urlopen(console_url + "snapshot.json", timeout=SNAPSHOT_TIMEOUT) as r:
            snapshot = json.load(r)
    except (OSError, ValueError):
        return None
    return snapshot if isinstance(snapshot, dict) else None


@dataclass
class DemoState:
    """Crawl progress and node status (the monitor's snapshot) and the latest shift table."""

    total: int
    started_wall: float  # time.time() at the demo's start
    analytics_dir: Path
    console_url: str | None = None  # the monitor's web console, once it is started
    batches_done: int = 0
    batches_total: int | None = None  # None while crawl-master still makes batches
    items: int = 0
    pages_per_second: float = 0.0
    eta_seconds: float | None = None
    nodes: dict[str, NodeView] = field(default_factory=dict)
    table: dict[str, Any] | None = None
    crawled: list[tuple[float, int]] = field(default_factory=list)  # (seconds, items) samples
    _table_mtime: float = 0.0

    def refresh(self) -> None:
        """Read the monitor's snapshot and whatever Spark wrote since the last refresh."""
        snapshot = read_snapshot(self.console_url) if self.console_url else None
        if snapshot is not None:
            self.follow(snapshot)
        self.crawled.append((time.time() - self.started_wall, self.items))
        self._read_table()

    @property
    def listings(self) -> int:
        """Listings counted by the latest shift table."""
        return int(self.table["listings"]) if self.table else 0

    @property
    def complete(self) -> bool:
        return self.listings >= self.total

    def follow(self, snapshot: dict[str, Any]) -> None:
        """Take one snapshot's figures. A crawl panel without them (crawl-master not started
        yet, or gone) keeps the last ones, and a node that does not answer its last counts."""
        crawl = snapshot.get("crawl") or {}
        batches = crawl.get("batches")
        if isinstance(batches, dict):
            ended = crawl.get("outcome") is not None
            self.batches_done = int(batches.get("done", 0))
            final = ended or crawl.get("intake_open") == 0
            self.batches_total = int(sum(batches.values())) if final else None
            self.items = int(crawl.get("items") or 0)
            self.pages_per_second = float(crawl.get("pages_per_second") or 0.0)
            eta = 0.0 if ended else crawl.get("eta_seconds")
            self.eta_seconds = float(eta) if eta is not None else None
        for node in snapshot.get("nodes") or []:
            view = self.nodes.setdefault(str(node["name"]), NodeView())
            view.up, view.reason = bool(node["up"]), str(node.get("reason") or "")
            if view.up:
                view.pending, view.running = int(node["pending"]), int(node["running"])
                view.finished = int(node["finished"])

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
