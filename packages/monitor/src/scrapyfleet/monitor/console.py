"""Console view: a compact per-node table redrawn in place (plain ANSI), like the book's monitor."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import TextIO

from scrapyfleet.core.contracts import Events
from scrapyfleet.monitor.daemon import Event, PollReport

HEADER = ("node", "pending", "running", "finished", "started", "completed", "state")
NOTABLE = frozenset({Events.NODE_UNREACHABLE, Events.NODE_RECOVERED, Events.JOB_VANISHED})
CURSOR_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # to the start of the line n lines up, clear below


def _describe(event: Event) -> str:
    f = event.fields
    if event.name == Events.JOB_VANISHED:
        return f"job {f['job']} ({f['spider']}) vanished from {f['node']}"
    if event.name == Events.NODE_UNREACHABLE:
        return f"{f['node']} unreachable: {f['reason']}"
    return f"{f['node']} recovered"


def table(report: PollReport) -> list[str]:
    """The table's lines: one row per node, then the totals."""
    rows: list[tuple[str, ...]] = [HEADER]
    for node in report.nodes:
        if node.status is None or node.changes is None:
            rows.append((node.target.name, "-", "-", "-", "-", "-", f"down: {node.reason}"))
            continue
        s, c = node.status, node.changes
        counts = (s.pending, s.running, s.finished, len(c.started), len(c.completed))
        rows.append((node.target.name, *map(str, counts), "up"))
    up = [n.status for n in report.nodes if n.status is not None]
    totals = (sum(s.pending for s in up), sum(s.running for s in up), sum(s.finished for s in up))
    down = len(report.nodes) - len(up)
    rows.append(("total", *map(str, totals), "", "", f"{len(up)} up, {down} down"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    return [
        "  ".join(
            [
                row[0].ljust(widths[0]),
                *(v.rjust(w) for v, w in zip(row[1:-1], widths[1:], strict=True)),
                row[-1],
            ]
        )
        for row in rows
    ]


class ConsoleTable:
    """Redraws the table after every poll, with the last few notable events below it."""

    def __init__(self, stream: TextIO, keep: int = 5) -> None:
        self.stream = stream
        self.recent: deque[str] = deque(maxlen=keep)
        self.drawn = 0

    def __call__(self, report: PollReport) -> None:
        clock = datetime.now().strftime("%H:%M:%S")
        self.recent.extend(f"{clock} {_describe(e)}" for e in report.events if e.name in NOTABLE)
        lines = [f"scrapyd fleet at {clock}", *table(report), *self.recent]
        prefix = CURSOR_UP_AND_CLEAR.format(n=self.drawn) if self.drawn else ""
        self.stream.write(prefix + "\n".join(lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)
