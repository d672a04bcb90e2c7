"""The demo's pure pieces: log tailing, state from the monitor's snapshot (the monitor's own
FleetState, served over real HTTP), truth comparison, latency, the chart."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from scrapyfleet.core.scrapyd import DaemonStatus, Job, JobList
from scrapyfleet.core.targets import Target
from scrapyfleet.demo.report import (
    accuracy,
    landed_files,
    landed_to_updated,
    percentile,
    planted_rows,
    write_chart,
)
from scrapyfleet.demo.state import DemoState, NodeView, extremes
from scrapyfleet.demo.tail import JsonTail
from scrapyfleet.demo.view import render
from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.monitor.daemon import NodeReport, PollReport
from scrapyfleet.monitor.readings import Crawl, Reading, Readings
from scrapyfleet.monitor.snapshot import FleetState


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def test_tail_returns_complete_lines_once_and_counts_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    tail = JsonTail(path)
    assert tail.read() == []  # no file yet
    path.write_bytes(b'{"event": "a"}\nnot json\n{"event": "b", "n"')
    assert tail.read() == [{"event": "a"}]
    assert tail.other_lines == 1
    assert tail.seen("a") and not tail.seen("b")
    with path.open("ab") as f:
        f.write(b": 1}\n")
    assert tail.read() == [{"event": "b", "n": 1}]
    assert tail.read() == []


def snapshots(*states: tuple[PollReport, Crawl | None]) -> list[dict[str, Any]]:
    """What the monitor's `/snapshot.json` says after each poll (its own FleetState)."""
    targets = [report.target for report in states[0][0].nodes]
    fleet = FleetState(targets, "fleetdemo", 1.0)
    return [
        fleet.update(poll, Readings(crawl=Reading(crawl, None if crawl else "refused")), t)
        for t, (poll, crawl) in enumerate(states, start=1_700_000_000)
    ]


@pytest.fixture
def monitor_web() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A web server answering `/snapshot.json` with the last of its list: (its URL, the list)."""
    served: list[dict[str, Any]] = []

    class Snapshot(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(served[-1]).encode() if served else b"{}"
            self.send_response(200 if served and self.path == "/snapshot.json" else 503)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Snapshot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", served
    server.shutdown()
    server.server_close()


def test_state_follows_the_monitors_snapshot_and_the_table(
    tmp_path: Path, monitor_web: tuple[str, list[dict[str, Any]]]
) -> None:
    url, served = monitor_web
    out = tmp_path / "analytics"
    out.mkdir()
    state = DemoState(100, time.time(), out, console_url=url)
    state.refresh()  # the monitor has no snapshot yet
    assert (state.batches_done, state.batches_total, state.nodes) == (0, None, {})

    one = Target("scrapyd1", "http://127.0.0.1:6801")
    two = Target("scrapyd2", "http://127.0.0.1:6802")
    jobs = JobList([], [Job("j1", "distr", "running")],
                   [Job(f"f{i}", "distr", "finished") for i in range(3)])  # fmt: skip
    busy = NodeReport(one, DaemonStatus("n1", 0, 1, 3), jobs=jobs)
    idle = NodeReport(two, DaemonStatus("n2", 0, 0, 0), jobs=JobList([], [], []))
    both_up = PollReport([busy, idle], [])
    one_down = PollReport([busy, NodeReport(two, reason="refused")], [])

    def crawl(done: int, total: int, items: int, *, open_: bool, outcome: str | None) -> Crawl:
        batches = {"done": done, "running": total - done}
        return Crawl(batches, {"landed": items, "pending": 100 - items}, items * 1.1, items,
                     total, 0, {"usable": 2}, 1_700_000_000.0, outcome,
                     intake_open=1.0 if open_ else 0.0)  # fmt: skip

    served += snapshots(
        (both_up, crawl(1, 4, 25, open_=True, outcome=None)),
        (one_down, crawl(2, 4, 50, open_=False, outcome=None)),
    )
    state.refresh()
    assert (state.batches_done, state.batches_total, state.items) == (2, 4, 50)
    assert state.pages_per_second == pytest.approx(27.5) and state.eta_seconds == 2.0
    assert state.nodes["scrapyd1"] == NodeView(True, 0, 1, 3)
    assert state.nodes["scrapyd2"] == NodeView(False, reason="refused")

    served[:] = snapshots((both_up, crawl(1, 2, 1, open_=True, outcome=None)))
    state.refresh()
    assert state.batches_total is None, "crawl-master still makes batches: no total yet"
    served[:] = snapshots((both_up, None))  # crawl-master gone: its last figures stay
    state.refresh()
    assert (state.batches_done, state.items) == (1, 1)
    served[:] = snapshots((both_up, crawl(4, 4, 100, open_=False, outcome="ok")))
    (out / "shifts.json").write_text(json.dumps({"listings": 100, "words": []}))
    state.refresh()
    assert (state.batches_done, state.batches_total, state.eta_seconds) == (4, 4, 0.0)
    assert state.complete and state.listings == 100


def test_accuracy_and_planted_rows_against_the_catalog_truth() -> None:
    catalog = Catalog(300, seed=3)
    truth = catalog.truth()
    words = [
        {"word": w, "shift": t.shift, "count": t.count, "sum": t.sum} for w, t in truth.items()
    ]
    words[0] = {**words[0], "shift": words[0]["shift"] + 0.5}
    checked = accuracy(words[:-1], truth)
    assert checked["missing_words"] == [words[-1]["word"]]
    assert checked["max_abs_error"] == pytest.approx(0.5)
    planted = catalog.planted_effects()
    flipped, dropped = sorted(planted)[:2]
    guesses = [{"word": w, "shift": e, "count": 5} for w, e in planted.items() if w != dropped]
    guesses = [{**g, "shift": -g["shift"]} if g["word"] == flipped else g for g in guesses]
    rows = {r["word"]: r for r in planted_rows(guesses, truth, planted)}
    assert set(rows) == set(planted)
    assert not rows[flipped]["sign_ok"]
    assert rows[dropped]["shift"] is None and not rows[dropped]["sign_ok"]
    assert sum(r["sign_ok"] for r in rows.values()) == len(planted) - 2


def test_extremes_rank_by_shift_among_frequent_words() -> None:
    words = [
        {"word": "a", "shift": 0.3, "count": 10},
        {"word": "rare", "shift": 0.9, "count": 1},
        {"word": "b", "shift": -0.2, "count": 10},
        {"word": "c", "shift": 0.1, "count": 10},
    ]
    top, bottom = extremes(words, 2)
    assert [w["word"] for w in top] == ["a", "c"]
    assert [w["word"] for w in bottom] == ["b", "c"]


def test_landed_to_updated_waits_for_the_table_that_counts_the_file(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    for name, lines, landed in (("b1_x_1.jl", 3, t0), ("b2_x_2.jl", 2, t0 + 10)):
        path = tmp_path / name
        path.write_text("{}\n" * lines)
        os.utime(path, (landed, landed))
    (tmp_path / ".staging.jl").write_text("{}\n" * 9)
    landed = landed_files(tmp_path)
    assert landed == [(t0, 3), (t0 + 10, 2)]
    history = [
        {"updated_at": iso(t0 + 1), "listings": 2},  # part of a file: not yet counted
        {"updated_at": iso(t0 + 2), "listings": 3},
        {"updated_at": iso(t0 + 13), "listings": 5},
    ]
    assert landed_to_updated(landed, history) == pytest.approx([2.0, 3.0])


def test_percentiles() -> None:
    assert percentile([], 95) is None
    assert percentile([4.0], 50) == 4.0
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


def test_chart_is_a_png(tmp_path: Path) -> None:
    words = [{"word": f"w{i}", "shift": i / 10 - 1, "count": 9} for i in range(20)]
    history = [{"updated_at": iso(time.time()), "listings": 20}]
    path = write_chart(tmp_path, words, {"w0": -0.9}, history, [(0.0, 0), (1.0, 20)],
                       time.time() - 5)  # fmt: skip
    assert path.read_bytes().startswith(b"\x89PNG")


def test_live_view_shows_progress_nodes_and_words(tmp_path: Path) -> None:
    out = tmp_path / "analytics"
    out.mkdir()
    state = DemoState(100, time.time(), out)
    state.nodes["scrapyd1"] = NodeView(up=False, reason="connection refused")
    state.table = {"listings": 40, "words": [
        {"word": "penthouse", "shift": 0.4, "count": 9},
        {"word": "bedsit", "shift": -0.3, "count": 9},
    ]}  # fmt: skip
    console = Console(record=True, width=120)
    console.print(render(state, {"penthouse": 0.4}, "crawling"))
    text = console.export_text()
    for shown in ("crawling", "40/100", "scrapyd1", "down", "penthouse", "+40%", "bedsit"):
        assert shown in text
