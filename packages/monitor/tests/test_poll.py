"""Job-list diffing: started, completed, vanished."""

from __future__ import annotations

from scrapyfleet.core.scrapyd import Job, JobList
from scrapyfleet.monitor.poll import JobTracker


def jobs(pending: str = "", running: str = "", finished: str = "") -> JobList:
    """A JobList from space-separated ids; every job's spider is "s"."""

    def make(ids: str, state: str) -> list[Job]:
        return [Job(i, "s", state) for i in ids.split()]

    return JobList(make(pending, "pending"), make(running, "running"), make(finished, "finished"))


def test_first_poll_is_the_baseline() -> None:
    tracker = JobTracker()
    changes = tracker.update(jobs("a", "b", "c"))
    assert (changes.started, changes.completed, changes.vanished) == ([], [], [])


def test_pending_running_finished() -> None:
    tracker = JobTracker()
    tracker.update(jobs())
    first = tracker.update(jobs(pending="a b"))
    assert (first.started, first.completed) == ([], [])
    second = tracker.update(jobs(pending="b", running="a"))
    assert (second.started, second.completed) == (["a"], [])
    third = tracker.update(jobs(running="b", finished="a"))
    assert (third.started, third.completed) == (["b"], ["a"])
    quiet = tracker.update(jobs(running="b", finished="a"))
    assert (quiet.started, quiet.completed, quiet.vanished) == ([], [], [])


def test_job_that_ran_between_polls_is_started_and_completed() -> None:
    tracker = JobTracker()
    tracker.update(jobs())
    changes = tracker.update(jobs(finished="x"))
    assert (changes.started, changes.completed) == (["x"], ["x"])


def test_pending_or_running_job_missing_from_every_list_vanished() -> None:
    tracker = JobTracker()
    tracker.update(jobs(pending="p", running="r", finished="f"))
    changes = tracker.update(jobs())  # e.g. scrapyd restarted with in-memory job storage
    assert sorted(job.id for job in changes.vanished) == ["p", "r"]
    assert changes.completed == []
    assert tracker.update(jobs()).vanished == []  # reported once


def test_finished_job_dropped_from_history_is_not_vanished() -> None:
    tracker = JobTracker()
    tracker.update(jobs(finished="old"))
    assert tracker.update(jobs(finished="new")).vanished == []
