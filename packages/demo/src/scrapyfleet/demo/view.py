"""The live view: a rich table refreshed in place on a TTY, `progress` log lines otherwise."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from scrapyfleet.demo.state import DemoState, extremes

log = structlog.get_logger("scrapyfleet.demo")

WORDS_SHOWN = 5
LOG_EVERY = 5.0


def render(state: DemoState, planted: dict[str, float], phase: str) -> Group:
    """Crawl progress, per-node status and the current top/bottom words."""
    elapsed = time.time() - state.started_wall
    crawl = Table(title=f"scrapyfleet demo — {phase} — {elapsed:,.0f} s", show_header=False)
    batches = f"{state.batches_done}/{state.batches_total or '?'}"
    eta = f"{state.eta_seconds:,.0f} s" if state.eta_seconds is not None else "?"
    crawl.add_row("batches", batches, "items crawled", f"{state.items:,}")
    crawl.add_row("pages/s", f"{state.pages_per_second:,.1f}", "ETA", eta)
    crawl.add_row("listings in table", f"{state.listings:,}/{state.total:,}", "", "")
    if state.console_url:
        crawl.add_row("web console", state.console_url, "", "")
    nodes = Table("node", "status", "pending", "running", "finished", title="scrapyd nodes")
    for name, node in sorted(state.nodes.items()):
        status = "up" if node.up else f"[red]down[/red] {node.reason[:40]}"
        nodes.add_row(name, status, str(node.pending), str(node.running), str(node.finished))
    words = Table("top word", "shift", "planted", "bottom word", "shift", "planted",
                  title="title words by price shift")  # fmt: skip
    top, bottom = extremes(state.table["words"], WORDS_SHOWN) if state.table else ([], [])
    for i in range(max(len(top), len(bottom))):
        words.add_row(*_cells(top, i, planted), *_cells(bottom, i, planted))
    return Group(crawl, nodes, words)


def _cells(rows: list[dict[str, Any]], i: int, planted: dict[str, float]) -> list[str]:
    if i >= len(rows):
        return ["", "", ""]
    word = str(rows[i]["word"])
    effect = f"{planted[word]:+.0%}" if word in planted else "-"
    return [word, f"{rows[i]['shift']:+.2%}", effect]


class LiveView:
    """`update()` redraws (TTY, ~2/s) or logs a `progress` line every few seconds."""

    def __init__(self, state: DemoState, planted: dict[str, float], console: Console) -> None:
        self.state = state
        self.planted = planted
        self.phase = "starting"
        self.live = (
            Live(
                console=console,
                refresh_per_second=2,
                get_renderable=lambda: render(self.state, self.planted, self.phase),
            )
            if console.is_terminal
            else None
        )
        self._logged = 0.0

    def __enter__(self) -> LiveView:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, phase: str) -> None:
        self.phase = phase
        if self.live is not None:
            return  # the live display re-renders the state on each refresh
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY:
            self._logged = now
            s = self.state
            log.info("progress", phase=phase, batches_done=s.batches_done,
                     batches_total=s.batches_total, items=s.items,
                     pages_per_second=s.pages_per_second, eta_seconds=s.eta_seconds,
                     listings=s.listings, total=s.total, console=s.console_url,
                     nodes_up=sum(n.up for n in s.nodes.values()))  # fmt: skip
