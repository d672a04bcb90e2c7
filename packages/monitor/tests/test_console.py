"""The console table: one row per node, totals, notable events, in-place redraw."""

from __future__ import annotations

import io

from scrapyfleet.core.scrapyd import DaemonStatus
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.console import ConsoleTable, table
from scrapyfleet.monitor.daemon import Event, NodeReport, PollReport
from scrapyfleet.monitor.poll import JobChanges


def report() -> PollReport:
    up = NodeReport(
        Target("scrapyd1", "http://127.0.0.1:6801"),
        status=DaemonStatus("n1", pending=3, running=2, finished=10),
        changes=JobChanges(started=["a"], completed=["b", "c"], vanished=[]),
    )
    down = NodeReport(Target("scrapyd2", "http://127.0.0.1:6802"), reason="connection refused")
    unreachable = Event(
        "node_unreachable",
        "warning",
        {"node": "scrapyd2", "url": "u", "reason": "connection refused"},
    )
    return PollReport([up, down], [unreachable, Event("cluster_status", "info", {})])


def test_table_rows_and_totals() -> None:
    lines = table(report())
    assert lines[0].split() == [
        "node",
        "pending",
        "running",
        "finished",
        "started",
        "completed",
        "state",
    ]
    assert lines[1].split() == ["scrapyd1", "3", "2", "10", "1", "2", "up"]
    assert lines[2].split()[:6] == ["scrapyd2", "-", "-", "-", "-", "-"]
    assert lines[2].endswith("down: connection refused")
    assert lines[3].split() == ["total", "3", "2", "10", "1", "up,", "1", "down"]


def test_redraw_in_place_with_recent_events() -> None:
    out = io.StringIO()
    view = ConsoleTable(out)
    view(report())
    first = out.getvalue()
    assert "\x1b[" not in first
    assert first.rstrip().endswith("scrapyd2 unreachable: connection refused")
    view(report())
    second = out.getvalue()[len(first) :]
    assert second.startswith(f"\x1b[{len(first.splitlines())}F\x1b[J")
    assert second.count("unreachable") == 2  # both polls' events kept below the table
