"""One scrapyd node as the dispatcher sees it: its last poll and its health (unreachable, timed
out, recovered, set aside), by the rules in `rules.py`. No I/O: `nodepool.py` polls."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import structlog

from scrapyfleet.core.scrapyd import DaemonStatus, Job, JobList
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.master import rules

log = structlog.get_logger("scrapyfleet.crawler.master.nodes")


@dataclass(slots=True)
class Node:
    """What the dispatcher knows of one scrapyd node."""

    target: Target
    slots: int
    status: DaemonStatus | None = None
    jobs: dict[str, Job] = field(default_factory=dict)
    unreachable_since: float | None = None
    reason: str = ""
    timed_out: bool = False  # unreachable for longer than the node timeout: its batches move
    set_aside: bool = False
    failures: int = 0  # consecutive failed attempts
    placed: int = 0  # batches placed since the last poll
    missing: dict[str, int] = field(default_factory=dict)  # job -> polls it was in no list
    finished_seen: dict[str, float] = field(default_factory=dict)  # job -> first seen finished
    polled_at: float = -math.inf  # when it was last polled, on the run's clock
    quiet: bool = False  # polled less often (`rules.quiet`)

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    @property
    def usable(self) -> bool:
        return self.reachable and not self.set_aside

    def free(self) -> int:
        """Slots neither busy at the last poll nor placed since."""
        busy = (self.status.running + self.status.pending) if self.status else self.slots
        return self.slots - busy - self.placed

    def polled(self, status: DaemonStatus, jobs: JobList) -> None:
        """The node answered: it is up again, with these jobs."""
        if not self.reachable:
            log.info("node_recovered", node=self.name, url=self.target.url)
        self.unreachable_since, self.timed_out, self.reason = None, False, ""
        self.status, self.placed = status, 0
        self.jobs = jobs.by_id()

    def unreachable(self, reason: str, now: float, node_timeout: float) -> bool:
        """The node did not answer; True when this makes it time out."""
        self.quiet = False
        if self.unreachable_since is None:
            self.unreachable_since = now
            log.warning("node_unreachable", node=self.name, url=self.target.url, reason=reason)
        self.reason = reason
        if self.timed_out or not rules.node_timed_out(self.unreachable_since, now, node_timeout):
            return False
        self.timed_out = True
        log.error("node_timed_out", node=self.name, url=self.target.url, reason=reason,
                  seconds=round(now - self.unreachable_since, 1))  # fmt: skip
        return True

    def sight(self, job: str, now: float) -> rules.Sighting:
        """Look `job` up in the last poll's lists, counting the polls it was missing."""
        found = self.jobs.get(job)
        if found is None:
            self.missing[job] = self.missing.get(job, 0) + 1
            return rules.Sighting(None, missing=self.missing[job])
        self.missing.pop(job, None)
        since = self.finished_seen.setdefault(job, now) if found.state == "finished" else None
        return rules.Sighting(found.state, finished_since=since)

    def fault(self, reason: str) -> bool:
        """An attempt failed through this node; True when this sets it aside."""
        self.failures += 1
        if self.set_aside or not rules.set_aside(self.failures):
            return False
        self.set_aside = True
        log.error("node_set_aside", node=self.name, failures=self.failures, reason=reason)
        return True
