"""Spark's head start and lead: the other components yield the CPU while its JVM starts, and
give way to its micro-batches after.

Linux puts each session's processes in one autogroup and shares the CPU between autogroups, not
between processes (sched(7), "The autogroup feature"); every component runs in a session of its
own (`procs.py`), so a plain `nice` on a worker would not make it yield to Spark. Until the Spark
job is ready, the demo sets the autogroup nice value of the other busy components (site, ftpsink,
the cluster and each scrapyd node with its jobs, crawl-master; not the light monitor, which the
demo waits for) to YIELD_NICE, then to LEAD_NICE: at nice 0, seven busy groups against Spark's
one left it an eighth of the CPU, less than its micro-batches need while the crawl runs at full
speed, so landed files queued up behind the crawl (docs/performance.md). The crawl still takes
all the CPU Spark does not use: a nice value is a weight, not a cap.
Neither needs privilege (only a negative value does). Without autogroups (another kernel or OS,
or `kernel.sched_autogroup_enabled=0`) nothing changes and the demo says so.
"""

from __future__ import annotations

import errno
from pathlib import Path

import structlog

from scrapyfleet.core.waits import wait_until

log = structlog.get_logger("scrapyfleet.demo")

YIELD_NICE = 10  # a nice-10 group weighs ~1/10 of a nice-0 one
LEAD_NICE = 3  # ~1/2: Spark's one group weighs as much as two of the crawl's
AUTOGROUPS = Path("/proc/sys/kernel/sched_autogroup_enabled")
RATE_WAIT = 1.0  # without CAP_SYS_ADMIN the kernel takes one change per 100 ms (EAGAIN otherwise)
RETRY = 0.02


def autogroup_path(pid: int) -> Path:
    return Path(f"/proc/{pid}/autogroup")


def set_group_nice(pid: int, nice: int) -> bool:
    """Set the nice value of `pid`'s autogroup; False if the process or autogroups are gone."""

    def attempt() -> str:  # "set", "gone", or "" to try again (the kernel's rate limit)
        try:
            autogroup_path(pid).write_text(f"{nice}\n")
        except OSError as exc:
            return "" if exc.errno == errno.EAGAIN else "gone"
        return "set"

    return wait_until(attempt, RATE_WAIT, interval=RETRY) == "set"


def autogroups_enabled() -> bool:
    try:
        return AUTOGROUPS.read_text().strip() == "1"
    except OSError:
        return False


class HeadStart:
    """Holds components at YIELD_NICE until `lift()`, at LEAD_NICE after (a component held
    after it, at LEAD_NICE at once)."""

    def __init__(self, wanted: bool = True) -> None:
        self.active = wanted and autogroups_enabled()
        self.lifted = False
        self.held: dict[str, int] = {}
        if not self.active:
            reason = "no autogroups" if wanted else "--no-head-start"
            log.info("no_head_start", reason=f"{reason}: every component runs at one priority")

    def hold(self, name: str, pid: int) -> None:
        """`pid` (a session leader: its autogroup is its own) gives way to Spark."""
        nice = LEAD_NICE if self.lifted else YIELD_NICE
        if self.active and set_group_nice(pid, nice):
            self.held[name] = pid

    def lift(self, seconds: float) -> None:
        """Spark is ready after `seconds`: every held component runs at LEAD_NICE."""
        if self.lifted:
            return
        self.lifted = True
        back = [name for name, pid in self.held.items() if set_group_nice(pid, LEAD_NICE)]
        if self.active:
            log.info("head_start_lifted", seconds=round(seconds, 2), components=back,
                     nice=LEAD_NICE)  # fmt: skip
