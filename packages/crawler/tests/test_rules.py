"""The dispatcher's rules and node bookkeeping as pure logic: no processes, sockets or sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapyfleet.core.scrapyd import DaemonStatus, Job, JobList
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.attempts import Attempts
from scrapyfleet.crawler.master.ledger import Batch, Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.master.nodes import Node
from scrapyfleet.crawler.master.placement import Placer
from scrapyfleet.crawler.retrywindow import RetryRule

TIMEOUT = 30.0  # the node timeout of these tests


def batch(node: str | None = "a", job: str | None = "r-00001-a1", attempts: int = 1) -> Batch:
    return Batch(
        id="r-00001", seq=1, size=10, state="scheduled", attempts=attempts, node=node, job=job,
        items=None, pages=None, error=None, created_at=0.0, scheduled_at=0.0, finished_at=None,
    )  # fmt: skip


def node(name: str = "a", slots: int = 2) -> Node:
    return Node(Target(name, f"http://{name}:6800"), slots)


def polled(n: Node, *jobs: Job, running: int = 0) -> Node:
    listed = JobList(
        pending=[j for j in jobs if j.state == "pending"],
        running=[j for j in jobs if j.state == "running"],
        finished=[j for j in jobs if j.state == "finished"],
    )
    n.polled(DaemonStatus(n.name, pending=0, running=running, finished=0), listed)
    return n


def report(finish_reason: str = "finished", feed_ok: bool = True) -> WorkerReport:
    return WorkerReport("r-00001-a1", "a", 1, items=10, pages=10, finish_reason=finish_reason,
                        feed_ok=feed_ok)  # fmt: skip


# -- reconciling an active batch -----------------------------------------------------------------
def test_a_batch_on_a_node_not_in_the_run_fails() -> None:
    verdict = rules.judge(batch(node="gone"), None, None, now=0.0)
    assert verdict == rules.fail("node gone is not a target of this run")


def test_running_job_marks_the_batch_running_and_pending_keeps_it() -> None:
    n = polled(node(), Job("r-00001-a1", "distr", "running"))
    assert rules.judge(batch(), n, n.sight("r-00001-a1", 0.0), 0.0) == rules.RUNNING
    n = polled(node(), Job("r-00001-a1", "distr", "pending"))
    assert rules.judge(batch(), n, n.sight("r-00001-a1", 0.0), 0.0) == rules.KEEP


def test_job_missing_from_two_polls_in_a_row_vanished() -> None:
    n = polled(node())
    first = n.sight("r-00001-a1", 0.0)
    assert rules.judge(batch(), n, first, 0.0) == rules.KEEP, "one poll may miss a new job"
    second = n.sight("r-00001-a1", 1.0)
    assert rules.judge(batch(), n, second, 1.0) == rules.fail("job r-00001-a1 vanished from a")


def test_job_listed_again_resets_its_missing_count() -> None:
    n = polled(node())
    n.sight("r-00001-a1", 0.0)
    polled(n, Job("r-00001-a1", "distr", "running")).sight("r-00001-a1", 1.0)
    again = polled(n).sight("r-00001-a1", 2.0)
    assert again.missing == 1 and rules.judge(batch(), n, again, 2.0) == rules.KEEP


def test_finished_without_report_fails_after_the_grace() -> None:
    n = polled(node(), Job("r-00001-a1", "distr", "finished"))
    seen = n.sight("r-00001-a1", 100.0)
    assert rules.judge(batch(), n, seen, 100.0 + rules.REPORT_GRACE) == rules.KEEP
    later = n.sight("r-00001-a1", 100.0 + rules.REPORT_GRACE + 0.1)
    assert later.finished_since == 100.0, "the grace counts from the first sighting"
    assert rules.judge(batch(), n, later, 100.0 + rules.REPORT_GRACE + 0.1) == rules.fail(
        "job finished without a successful report"
    )


# -- node health ---------------------------------------------------------------------------------
def test_unreachable_node_keeps_its_batches_until_it_times_out() -> None:
    n = node()
    assert not n.unreachable("connection refused", now=10.0, node_timeout=TIMEOUT)
    assert not n.usable and rules.judge(batch(), n, None, 10.0) == rules.KEEP
    assert not n.unreachable("connection refused", now=10.0 + TIMEOUT, node_timeout=TIMEOUT)
    assert n.unreachable("connection refused", now=10.1 + TIMEOUT, node_timeout=TIMEOUT)
    assert not n.unreachable("connection refused", now=99.0, node_timeout=TIMEOUT), "times out once"
    assert rules.judge(batch(), n, None, 50.0) == rules.fail(
        "node a unreachable: connection refused"
    )


def test_a_node_that_answers_again_has_recovered() -> None:
    n = node()
    n.unreachable("timeout after 5.0s", now=0.0, node_timeout=1.0)
    n.unreachable("timeout after 5.0s", now=2.0, node_timeout=1.0)
    polled(n, running=1)
    assert (n.reachable, n.timed_out, n.reason, n.usable) == (True, False, "", True)
    assert n.free() == 1


def test_consecutive_node_faults_set_the_node_aside_once() -> None:
    n = node()
    assert [n.fault("vanished") for _ in range(rules.SET_ASIDE_AFTER + 1)] == [
        False, False, True, False,
    ]  # fmt: skip
    assert n.set_aside and n.reachable and not n.usable


def test_no_usable_node_aborts_the_run_after_the_node_timeout() -> None:
    assert not rules.abort_run(None, now=100.0, node_timeout=TIMEOUT), "some node is usable"
    assert not rules.abort_run(70.0, now=100.0, node_timeout=TIMEOUT)
    assert rules.abort_run(69.9, now=100.0, node_timeout=TIMEOUT)


# -- after a failed attempt ----------------------------------------------------------------------
def test_backoff_doubles_after_worker_failures_and_is_zero_after_node_faults() -> None:
    delays = [rules.backoff(attempts, node_fault=False) for attempts in (1, 2, 3, 4, 9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, rules.MAX_BACKOFF]
    assert rules.backoff(5, node_fault=True) == 0.0


def test_a_retry_avoids_the_node_it_failed_on_if_another_can_take_it() -> None:
    retry = rules.retry(batch(node="a"), node_fault=True)
    assert retry == rules.Retry(delay=0.0, avoid="a")
    placer = Placer("free")
    assert placer.choose(["a", "b"], {"a": 2, "b": 1}, avoid=retry.avoid) == "b"
    assert placer.choose(["a", "b"], {"a": 2, "b": 0}, avoid=retry.avoid) == "a"


@pytest.mark.parametrize(
    ("finish_reason", "feed_ok", "failure"),
    [
        ("finished", True, None),
        ("finished", False, "feed upload failed"),
        ("shutdown", True, "finish reason shutdown"),
        ("batch_unavailable", False, "finish reason batch_unavailable"),
    ],
)
def test_what_a_worker_report_says(finish_reason: str, feed_ok: bool, failure: str | None) -> None:
    assert rules.report_failure(report(finish_reason, feed_ok)) == failure


def test_a_failed_schedule_call() -> None:
    assert rules.schedule_error(rejected=True, reason="spider not found") == "refused"
    assert rules.schedule_error(rejected=False, reason="timeout after 5.0s") == "uncertain"
    assert rules.schedule_error(rejected=False, reason="connection refused") == "unreachable"


# -- the rules applied to a ledger (SQLite in a temporary directory) -----------------------------
def failures_of(nodes: NodePool, name: str) -> int:
    found = nodes.get(name)
    assert found is not None
    return found.failures


def test_node_faults_set_the_node_aside_and_a_success_resets_the_count(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    troubled: dict[str, str] = {}
    nodes = NodePool([Target("a", "http://a")], 2, TIMEOUT, troubled)
    attempts = Attempts(ledger, nodes, 9, RetryRule(9, 600.0), failed={}, wake=lambda: None)
    first = ledger.add_batch("r", ["u1"])
    for attempt in (1, 2):
        ledger.scheduled(first.id, "a", f"{first.id}-a{attempt}")
        attempts.fail(ledger.batch(first.id), "job vanished")
    assert failures_of(nodes, "a") == 2
    ledger.scheduled(first.id, "a", f"{first.id}-a3")
    done = WorkerReport(f"{first.id}-a3", "a", 3, 1, 1, "finished", feed_ok=True)
    assert attempts.reported(first.id, done) == "done"
    assert failures_of(nodes, "a") == 0
    second = ledger.add_batch("r", ["u2"])
    for attempt in range(1, rules.SET_ASIDE_AFTER + 1):
        ledger.scheduled(second.id, "a", f"{second.id}-a{attempt}")
        attempts.fail(ledger.batch(second.id), "job vanished")
    assert troubled == {"a": "set aside: job vanished"}
    assert attempts.retry_of(second.id)[1] == "a", "the retry avoids the node"


def test_failed_reports_retry_with_backoff_then_fail_the_batch(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    nodes = NodePool([Target("a", "http://a"), Target("b", "http://b")], 2, TIMEOUT, {})
    failed: dict[str, str] = {}
    wakes: list[None] = []
    attempts = Attempts(
        ledger, nodes, 2, RetryRule(2, 600.0), failed=failed, wake=lambda: wakes.append(None)
    )
    queued = ledger.add_batch("r", ["u1"])
    ledger.scheduled(queued.id, "a", "r-00001-a1")

    assert attempts.reported(queued.id, report(feed_ok=False)) == "queued"
    not_before, avoid = attempts.retry_of(queued.id)
    assert avoid == "a" and not_before > 0 and not failed
    assert failures_of(nodes, "a") == 0, "not the node's fault"

    ledger.scheduled(queued.id, "b", "r-00001-a2")
    late = WorkerReport("r-00001-a1", "a", 1, 0, 0, "finished", feed_ok=False)
    assert attempts.reported(queued.id, late) == "scheduled", "an old attempt changes nothing"
    second = WorkerReport("r-00001-a2", "b", 2, 0, 0, "shutdown", feed_ok=True)
    assert attempts.reported(queued.id, second) == "failed"
    assert failed == {queued.id: "finish reason shutdown"} and len(wakes) == 2
