"""crawl-master on a terminal a person reads: one rich console for the bar and the log lines,
the events that matter, and the run's end as a short table.

Only on a TTY: events go through the progress display's console (rich keeps its live bar below
them) and, at INFO, only `SHOWN` events, warnings and errors reach the screen; the rest (each
batch created, leased, scheduled; `core_metrics` with nothing in flight; the `run_summary`
event, shown as `summary_table` instead) is on screen at DEBUG and always in the run's
`master.log`. Not on a TTY nothing changes: every event, JSON lines.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any, TextIO, cast

import structlog
from rich.console import Console
from rich.file_proxy import FileProxy
from rich.table import Table
from structlog.typing import EventDict, Processor

from scrapyfleet.core.logs import LogFormat, configure_logging
from scrapyfleet.crawler.coremetrics import FIELDS as CORE_FIELDS

# INFO events a person reads: the run's start, nodes and sites back, batches done, progress.
SHOWN = frozenset(
    {
        "run_started", "resumed", "index_resumed", "deployed", "diverting", "node_ready",
        "node_recovered", "site_up", "site_slowed", "batch_done", "progress", "core_metrics",
        "metrics_serving", "metrics_linger",
    }
)  # fmt: skip


@functools.cache
def screen() -> Console:
    """The one console of this process's terminal (stderr), shared by the bar and the logs."""
    return Console(stderr=True)


def log_stream() -> TextIO:
    """Where log lines go on a TTY: printed by `screen()`, above its live bar."""
    return cast(TextIO, FileProxy(screen(), sys.stderr))  # a TextIOBase: what a stream needs


def log_on_a_terminal(fmt: LogFormat | None, level: str) -> None:
    """`configure_logging` through `screen()`, keeping what a person reads unless JSON is asked."""
    person = (fmt or "console") == "console"
    configure_logging(fmt, level, log_stream(), screen=[for_a_person(level)] if person else [])


def for_a_person(level: str) -> Processor:
    """A structlog processor (after master.log's copy) keeping what a person reads at `level`:
    everything at DEBUG."""
    everything = logging.getLevelName(level.upper()) == logging.DEBUG

    def keep(logger: Any, name: str, event: EventDict) -> EventDict:
        if everything or event.get("level") not in ("info", "debug"):
            return event
        what = event.get("event")
        if what == "core_metrics" and not any(event.get(f) for f in CORE_FIELDS):
            raise structlog.DropEvent
        if what in SHOWN:
            return event
        raise structlog.DropEvent

    return keep


def summary_table(summary: dict[str, Any]) -> Table:
    """The run in a few rows: URLs by outcome, batches, pages and time, then each node."""
    urls = summary["urls"]
    table = Table(title="crawl-master: run summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = {
        "URLs landed": urls["landed"],
        "gone (404/410)": urls["gone"],
        "without an item": urls["no_item"],
        "failed": urls["failed"],
        "unsettled": urls["pending"],
        "needed a retry": summary["urls_retried"],
        "batches done": f"{summary['batches_done']:,} of {summary['batches']:,}",
        "items": summary["items"],
        "pages": f"{summary['pages']:,} ({summary['pages_per_second'] or 0} pages/s)",
        "wall time": f"{summary['wall_seconds']:.1f} s",
    }
    for label, value in rows.items():
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    for node, figures in sorted(summary["nodes"].items()):
        table.add_row(f"node {node}", f"{figures['batches']:,} batches, "
                      f"{figures['items']:,} items")  # fmt: skip
    return table
