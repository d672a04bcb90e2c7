"""Job-list diffing between two polls of one node: started, completed and vanished jobs (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapyfleet.core.scrapyd import Job, JobList


@dataclass(frozen=True, slots=True)
class JobChanges:
    """What happened to a node's jobs between two polls."""

    started: list[str]  # ids now running or finished that were pending or unseen before
    completed: list[str]  # ids newly finished
    vanished: list[Job]  # jobs seen pending or running that are now in no list


@dataclass(slots=True)
class JobTracker:
    """A node's jobs as of the last answered poll. The first poll only sets the baseline."""

    live: dict[str, Job] = field(default_factory=dict)  # pending or running
    finished: set[str] = field(default_factory=set)
    seen: bool = False

    def update(self, jobs: JobList) -> JobChanges:
        """Diff `jobs` against the previous answer and remember it."""
        now = jobs.by_id()
        finished = {job.id for job in jobs.finished}
        was_started = {i for i, job in self.live.items() if job.state == "running"} | self.finished
        changes = JobChanges(
            started=[
                i for i, job in now.items() if job.state != "pending" and i not in was_started
            ],
            completed=[job.id for job in jobs.finished if job.id not in self.finished],
            vanished=[job for i, job in self.live.items() if i not in now],
        )
        self.live = {i: job for i, job in now.items() if job.state != "finished"}
        self.finished = finished
        if not self.seen:
            self.seen = True
            return JobChanges([], [], [])
        return changes
