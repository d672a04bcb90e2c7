"""The dispatcher's rules, as pure functions: what becomes of a batch, an attempt and a node.

No I/O and no clock: the caller passes `now` (monotonic seconds) and what the nodes last said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from scrapyfleet.core.scrapyd import JobState
from scrapyfleet.core.waits import Backoff

if TYPE_CHECKING:
    from scrapyfleet.crawler.contract import WorkerReport
    from scrapyfleet.crawler.master.ledger import Batch

REPORT_GRACE = 3.0  # seconds a finished job may wait for its report before it counts as failed
VANISHED_AFTER = 2  # polls in a row a job may be in none of its node's lists
SET_ASIDE_AFTER = 3  # consecutive infrastructure failures that set a node aside for the run
QUIET_POLLS = 5  # a quiet node is polled every this many poll intervals
MAX_BACKOFF = 30.0  # seconds, the longest wait before a retry
RETRY = Backoff(first=1.0, cap=MAX_BACKOFF)  # after a worker's own failure


@dataclass(frozen=True, slots=True)
class Verdict:
    """What reconciling does with an active batch: keep it, mark it running, or fail it."""

    action: Literal["keep", "running", "fail"]
    reason: str = ""


KEEP = Verdict("keep")
RUNNING = Verdict("running")


def fail(reason: str) -> Verdict:
    return Verdict("fail", reason)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What a node's job lists said of one job, over the polls so far."""

    state: JobState | None  # None: in none of the lists at the last poll
    missing: int = 0  # polls in a row it was in none of the lists
    finished_since: float | None = None  # when it was first seen finished


class NodeHealth(Protocol):
    """What reconciling needs to know of a batch's node (`nodes.Node` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def reachable(self) -> bool: ...  # answered the last poll
    @property
    def timed_out(self) -> bool: ...  # unreachable for longer than the node timeout
    @property
    def reason(self) -> str: ...  # why it is unreachable


def judge(
    batch: Batch,
    node: NodeHealth | None,
    sighting: Sighting | None,
    now: float,
    silent_since: float | None = None,
    lease_timeout: float = math.inf,
) -> Verdict:
    """An active batch against its node: fail it if the node is gone or timed out, keep it while
    the node is unreachable but not yet timed out, else judge its job by `sighting` (and how long
    the job has been silent about this lease)."""
    if node is None or batch.job is None:
        return fail(f"node {batch.node} is not a target of this run")
    if node.timed_out:
        return fail(f"node {node.name} unreachable: {node.reason}")
    if not node.reachable or sighting is None:
        return KEEP
    return judge_job(batch.job, node.name, sighting, now, silent_since, lease_timeout)


def judge_job(
    job: str,
    node: str,
    sighting: Sighting,
    now: float,
    silent_since: float | None = None,
    lease_timeout: float = math.inf,
) -> Verdict:
    """A job that vanished, or finished and sent no successful report within REPORT_GRACE, or
    runs but said nothing of its lease for `lease_timeout` seconds, fails its attempt; a running
    one marks its batch running."""
    if sighting.state is None:
        return fail(f"job {job} vanished from {node}") if vanished(sighting) else KEEP
    if sighting.state == "finished":
        late = overdue(sighting.finished_since, now, REPORT_GRACE)
        return fail("job finished without a successful report") if late else KEEP
    if sighting.state != "running":
        return KEEP
    if overdue(silent_since, now, lease_timeout):
        return fail(f"lease expired: job {job} silent for over {lease_timeout:g}s")
    return RUNNING


def vanished(sighting: Sighting) -> bool:
    """Seen in no list VANISHED_AFTER polls in a row: scrapyd dropped or forgot the job."""
    return sighting.state is None and sighting.missing >= VANISHED_AFTER


def overdue(since: float | None, now: float, limit: float) -> bool:
    """Whether a condition that holds `since` has lasted longer than `limit` seconds."""
    return since is not None and now - since > limit


def poll_due(polled_at: float, now: float, interval: float, quiet: bool) -> bool:
    """Whether a node is due for a poll: every `interval`, a quiet one every QUIET_POLLS."""
    return now - polled_at >= interval * (QUIET_POLLS if quiet else 1)


def quiet(watched: bool, work_queued: bool) -> bool:
    """A node is quiet when a poll would seldom tell the dispatcher anything: each of the run's
    jobs on it seen running (one that dies is found a few polls later, or by its lease's
    silence), no batch waiting for a slot (the next tick polls every node again). At 100 nodes
    and more the polls are most of the master's work that is not URLs (docs/performance.md)."""
    return not watched and not work_queued


def node_timed_out(unreachable_since: float | None, now: float, node_timeout: float) -> bool:
    """A node unreachable for longer than the node timeout has timed out: its batches move."""
    return overdue(unreachable_since, now, node_timeout)


def abort_run(no_usable_node_since: float | None, now: float, node_timeout: float) -> bool:
    """No usable node (all unreachable or set aside) for longer than the node timeout."""
    return overdue(no_usable_node_since, now, node_timeout)


@dataclass(frozen=True, slots=True)
class Retry:
    """When and where a batch may run again after a failed attempt."""

    delay: float  # seconds from now
    avoid: str | None  # the node it failed on: placement picks another one if it can


def retry(batch: Batch, node_fault: bool) -> Retry:
    """The retry of `batch` after its latest attempt failed."""
    return Retry(backoff(batch.attempts, node_fault), batch.node)


def backoff(attempts: int, node_fault: bool) -> float:
    """Seconds before a retry: at once after a node's fault (another node takes it); after the
    worker's own failure (e.g. the feed upload) 1, 2, 4 ... up to MAX_BACKOFF."""
    return 0.0 if node_fault else RETRY.delay(attempts)


def set_aside(failures: int) -> bool:
    """SET_ASIDE_AFTER consecutive node faults set a node aside for the rest of the run."""
    return failures >= SET_ASIDE_AFTER


def report_failure(report: WorkerReport) -> str | None:
    """Why a worker's report says its attempt failed, or None if it succeeded."""
    if report.succeeded:
        return None
    if report.finish_reason != "finished":
        return f"finish reason {report.finish_reason}"
    return "feed upload failed"


def schedule_error(rejected: bool, reason: str) -> Literal["refused", "uncertain", "unreachable"]:
    """A failed `schedule.json`: the node refused it (the attempt fails), timed out (it may have
    queued the job: track it, the vanished rule catches it), or is unreachable."""
    if rejected:
        return "refused"
    return "uncertain" if reason.startswith("timeout") else "unreachable"
