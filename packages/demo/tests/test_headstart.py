"""Spark's head start: components in sessions of their own yield until it is lifted, and give
way to it after."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapyfleet.demo.headstart import LEAD_NICE, YIELD_NICE, HeadStart, autogroups_enabled

pytestmark = pytest.mark.skipif(not autogroups_enabled(), reason="no autogroups here")


def group_nice(pid: int) -> int:
    """`/proc/PID/autogroup` reads `/autogroup-N nice V`."""
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


@pytest.fixture
def sessions() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two idle processes, each in a session (so an autogroup) of its own, like the components."""
    idle = [sys.executable, "-c", "import time; time.sleep(60)"]
    procs = [subprocess.Popen(idle, start_new_session=True) for _ in range(2)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def test_held_components_yield_until_lifted_then_give_way_and_later_ones_too(
    sessions: list[subprocess.Popen[bytes]],
) -> None:
    first, second = sessions
    head_start = HeadStart()
    head_start.hold("first", first.pid)
    assert group_nice(first.pid) == YIELD_NICE
    assert group_nice(second.pid) == 0
    head_start.lift(1.0)
    assert group_nice(first.pid) == LEAD_NICE
    head_start.hold("second", second.pid)  # started after Spark was ready
    assert group_nice(second.pid) == LEAD_NICE
    assert head_start.held == {"first": first.pid, "second": second.pid}


def test_a_component_gone_before_it_is_held_is_skipped(
    sessions: list[subprocess.Popen[bytes]],
) -> None:
    gone = sessions[0]
    gone.kill()
    gone.wait()
    head_start = HeadStart()
    head_start.hold("gone", gone.pid)
    head_start.lift(1.0)
    assert head_start.held == {}


def test_no_head_start_holds_nothing(sessions: list[subprocess.Popen[bytes]]) -> None:
    head_start = HeadStart(wanted=False)
    head_start.hold("first", sessions[0].pid)
    assert group_nice(sessions[0].pid) == 0
    assert head_start.held == {}
