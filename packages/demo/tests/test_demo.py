"""The one-command demo, end to end: real site, ftpsink, scrapyd nodes, Spark, monitor, master."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.demo.procs import pid_alive
from scrapyfleet.demosite.catalog import Catalog

DEMO = str(Path(sys.executable).parent / "demo")
TOTAL = 2000
STOP_DEADLINE = 15.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def start_demo(run_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    log = (run_dir.parent / f"{run_dir.name}.out").open("wb")
    return subprocess.Popen(
        [DEMO, "--total", str(TOTAL), "--latency", "0", "--batch-size", "500",
         "--run-dir", str(run_dir), "--timeout", "220", *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def recorded_pids(run_dir: Path, with_demo: bool = False) -> dict[str, int]:
    """The PIDs the demo recorded: its components, the scrapyd nodes (and the demo's own)."""
    try:
        data = json.loads((run_dir / "pids.json").read_text())
    except (OSError, ValueError):
        return {}
    return {**data["components"], **data["extra"], **({"demo": data["demo"]} if with_demo else {})}


def demo_output(run_dir: Path) -> str:
    return (run_dir.parent / f"{run_dir.name}.out").read_text(errors="replace")


def demo_events(run_dir: Path, name: str) -> list[dict[str, Any]]:
    """The demo's own log events called `name`."""
    events = []
    for line in demo_output(run_dir).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the final table, or a line still being written
        if isinstance(event, dict) and event.get("event") == name:
            events.append(event)
    return events


@pytest.fixture
def run_dir(tmp_path: Path) -> Any:
    """The run directory; the demo and what it recorded are killed if a test left them running."""
    path = tmp_path / "run"
    yield path
    for pid in recorded_pids(path, with_demo=True).values():
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)


def assert_nothing_left(run_dir: Path, wait_for: Callable[..., Any]) -> None:
    pids = recorded_pids(run_dir)
    assert {"demosite", "ftpsink", "cluster", "spark"} <= set(pids)
    wait_for(lambda: not [n for n, p in pids.items() if pid_alive(p)], STOP_DEADLINE,
             what="every recorded process to be gone")  # fmt: skip


def test_small_run_recovers_the_ground_truth_and_leaves_nothing(
    run_dir: Path, wait_for: Callable[..., Any]
) -> None:
    demo = start_demo(run_dir)
    code = demo.wait(timeout=260)
    output = demo_output(run_dir)
    assert code == 0, output[-3000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["ok"] is True
    assert report["listings"] == TOTAL
    shifts = json.loads((run_dir / "analytics" / "shifts.json").read_text())
    assert shifts["listings"] == TOTAL
    truth = Catalog(TOTAL, seed=0).truth()
    recovered = {w["word"]: w["shift"] for w in shifts["words"]}
    assert set(recovered) == set(truth)
    for word, expected in truth.items():
        assert recovered[word] == pytest.approx(expected.shift, abs=1e-9), word
    assert (run_dir / "chart.png").stat().st_size > 10_000
    assert "penthouse" in output and "planted" in output  # the final table was printed
    assert set(report["processes"]) == {
        "demosite", "ftpsink", "cluster", "spark", "monitor", "crawl-master"
    }  # fmt: skip
    consoles = [e["console"] for e in demo_events(run_dir, "progress") if e.get("console")]
    assert consoles and consoles[-1].startswith("http://127.0.0.1:")  # the console's URL, told
    assert_nothing_left(run_dir, wait_for)


def test_sigint_during_the_crawl_stops_every_child(
    run_dir: Path, wait_for: Callable[..., Any]
) -> None:
    demo = start_demo(run_dir)
    master_log = run_dir / "logs" / "crawl-master.log"
    wait_for(lambda: b"batch_scheduled" in master_log.read_bytes() if master_log.exists() else
             demo.poll() is not None, 200, what="the crawl to start")  # fmt: skip
    assert demo.poll() is None, demo_output(run_dir)[-3000:]
    interrupted = time.monotonic()
    demo.send_signal(signal.SIGINT)
    code = demo.wait(timeout=STOP_DEADLINE + 5)
    assert code != 0
    assert time.monotonic() - interrupted < STOP_DEADLINE
    assert demo_events(run_dir, "interrupted")
    assert_nothing_left(run_dir, wait_for)


def test_a_dying_component_is_named_and_everything_stops(
    run_dir: Path, wait_for: Callable[..., Any]
) -> None:
    demo = start_demo(run_dir)
    pid = wait_for(lambda: recorded_pids(run_dir).get("ftpsink"), 60, what="ftpsink to start")
    wait_for(
        lambda: any(e["component"] == "ftpsink" for e in demo_events(run_dir, "ready")),
        60,
        what="ftpsink to be ready",
    )
    os.killpg(pid, signal.SIGKILL)
    code = demo.wait(timeout=60)
    assert code not in (0, None)
    [failure] = demo_events(run_dir, "component_failed")
    assert failure["reason"].startswith(f"ftpsink (pid {pid}) exited")
    assert_nothing_left(run_dir, wait_for)
