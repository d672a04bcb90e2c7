"""The dispatcher's timing rules on an in-memory fleet and a clock the test turns: node timeout,
lease timeout, vanished jobs, the abort with no usable node, retry backoff, placement by free
slots, quiet nodes polled less often, and which waiting jobs a new batch wakes. Each case covers
minutes of run time in milliseconds; the real-process tests (test_reliability.py,
test_site_outage.py) keep the same rules end to end on real scrapyd nodes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from scrapyfleet.core.scrapyd import DaemonStatus, Job, JobList, JobState, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master import rules
from scrapyfleet.crawler.master.dispatch import Dispatcher
from scrapyfleet.crawler.master.fleetconfig import FleetConfig, RunOutcome
from scrapyfleet.crawler.master.ledger import Ledger
from scrapyfleet.crawler.master.nodepool import NodePool
from scrapyfleet.crawler.retrywindow import RetryRule

PROJECT, SPIDER = "p", "s"
NODE_TIMEOUT, LEASE_TIMEOUT = 30.0, 60.0


class Clock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeScrapyd:
    """An in-memory scrapyd node: `schedule` starts a running job, the test moves or drops jobs;
    while `up` is False every call fails as an unreachable node's does."""

    def __init__(self, name: str) -> None:
        self.name, self.up = name, True
        self.jobs: dict[str, JobState] = {}
        self.scheduled: list[str] = []
        self.polls = 0

    def _answer(self, endpoint: str) -> None:
        if not self.up:
            raise ScrapydError("connection refused", endpoint)

    async def listprojects(self) -> list[str]:
        self._answer("listprojects.json")
        return [PROJECT]

    async def daemonstatus(self) -> DaemonStatus:
        self._answer("daemonstatus.json")
        states = Counter(self.jobs.values())
        return DaemonStatus(self.name, states["pending"], states["running"], states["finished"])

    async def listjobs(self, project: str) -> JobList:
        self._answer("listjobs.json")
        self.polls += 1
        lists: dict[str, list[Job]] = {"pending": [], "running": [], "finished": []}
        for job, state in self.jobs.items():
            lists[state].append(Job(job, SPIDER, state))
        return JobList(**lists)

    async def schedule(self, project: str, spider: str, **kwargs: object) -> str:
        self._answer("schedule.json")
        job = str(kwargs["jobid"])
        self.jobs[job] = "running"
        self.scheduled.append(job)
        return job


class Fleet:
    """A dispatcher on fake nodes (`slots` per name) and a test clock, with a real ledger."""

    def __init__(self, tmp_path: Path, slots: dict[str, int]) -> None:
        self.clock = Clock()
        self.ledger = Ledger(tmp_path / "ledger.sqlite")
        targets = [Target(name, f"http://{name}:6800", slots=n) for name, n in slots.items()]
        self.outcome = RunOutcome()
        self.pool = NodePool(targets, 1, NODE_TIMEOUT, self.outcome.troubled_nodes, self.clock)
        self.nodes = {name: FakeScrapyd(name) for name in slots}
        for name, fake in self.nodes.items():
            self.pool.attach(name, fake)
        config = FleetConfig(
            targets=targets, run_dir=tmp_path, feed_uri="ftp://127.0.0.1/x.jl", project=PROJECT,
            spider=SPIDER, listen_host="127.0.0.1", listen_port=0, advertise_url=None,
            tls_cert="", tls_key="", master_ca_file="", worker_settings={}, default_slots=1,
            placement="free", max_attempts=3, url_retries=RetryRule(3, 600.0), batch_size=10,
            node_timeout=NODE_TIMEOUT, poll_interval=1.0, lease_timeout=LEASE_TIMEOUT,
            keep_workers=True,
        )  # fmt: skip
        self.dispatcher = Dispatcher(
            config,
            self.ledger,
            self.pool,
            self.outcome,
            lambda urls: self.ledger.add_batch("r", urls),
        )

    def batches(self, count: int) -> list[str]:
        return [self.ledger.add_batch("r", [f"u{i}"]).id for i in range(count)]

    async def run(self, seconds: float) -> bool:
        """Tick every second of the clock for `seconds`; True once the run is over."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            if await self.dispatcher.tick(lambda: None) is None:
                return True
            self.clock.now += 1
        return False

    def where(self, batch_id: str) -> tuple[str | None, int, str]:
        batch = self.ledger.batch(batch_id)
        return batch.node, batch.attempts, batch.state

    def reason(self, batch_id: str) -> object:
        """Why the batch's first attempt ended, as the ledger has it."""
        [row] = [r for r in self.ledger.attempt_history()
                 if r["batch"] == batch_id and r["attempt"] == 1]  # fmt: skip
        return row["reason"]

    def done(self) -> set[str]:
        return {batch.id for batch in self.ledger.batches("done")}

    async def one_batch_on(self, name: str) -> str:
        """A batch running on node `name` (the others down until it is placed)."""
        others = [fake for fake in self.nodes.values() if fake.name != name]
        for fake in others:
            fake.up = False
        [batch] = self.batches(1)
        await self.run(2)
        assert self.where(batch) == (name, 1, "running")
        for fake in others:
            fake.up = True
        return batch

    def report_done(self, batch_id: str) -> None:
        """The batch's job reports success and finishes."""
        batch = self.ledger.batch(batch_id)
        assert batch.job is not None and batch.node is not None
        report = WorkerReport(batch.job, batch.node, batch.attempts, 1, 1, "finished", True)
        self.dispatcher.attempts.reported(batch_id, report)
        self.nodes[batch.node].jobs[batch.job] = "finished"


async def test_a_node_unreachable_past_the_node_timeout_has_its_batches_moved(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path, {"a": 1, "b": 1})
    batch = await fleet.one_batch_on("a")
    fleet.nodes["a"].up = False
    await fleet.run(rules.QUIET_POLLS)  # its slot busy, nothing queued: a quiet node
    node = fleet.pool.get("a")
    assert node is not None and node.unreachable_since is not None, "its next poll saw it down"
    await fleet.run(NODE_TIMEOUT - 2 - (fleet.clock.now - node.unreachable_since))
    assert fleet.where(batch) == ("a", 1, "running"), "unreachable, not yet timed out: it waits"
    assert fleet.outcome.troubled_nodes == {}, "not timed out yet"
    assert fleet.pool.unanswered() == {
        "a": f"unreachable: connection refused (for {NODE_TIMEOUT - 2:.1f} s)"
    }
    await fleet.run(3 + rules.MAX_BACKOFF)
    moved = fleet.ledger.batch(batch)
    assert (moved.node, moved.attempts) == ("b", 2)
    assert fleet.outcome.troubled_nodes == {"a": "unreachable: connection refused"}
    assert fleet.pool.unanswered() == {}, "named once"


async def test_a_quiet_node_is_polled_less_often_until_a_batch_waits(tmp_path: Path) -> None:
    """Its job seen running and nothing queued, a poll would seldom tell anything: the node is
    polled every QUIET_POLLS intervals; with a batch waiting for a slot, every interval."""
    fleet = Fleet(tmp_path, {"a": 1})
    await fleet.one_batch_on("a")
    polls = fleet.nodes["a"].polls
    await fleet.run(4 * rules.QUIET_POLLS)
    assert fleet.nodes["a"].polls - polls == 4
    fleet.batches(1)
    polls = fleet.nodes["a"].polls
    await fleet.run(rules.QUIET_POLLS)
    assert fleet.nodes["a"].polls - polls >= rules.QUIET_POLLS - 1


async def test_a_job_placed_on_a_quiet_node_between_polls_is_seen_at_the_next(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path, {"a": 2})
    await fleet.one_batch_on("a")
    await fleet.dispatcher.tick(lambda: None)  # a poll: its job runs, nothing queued
    [batch] = fleet.batches(1)
    polls = fleet.nodes["a"].polls
    await fleet.dispatcher.tick(lambda: None)  # woken by the new batch, no poll due: placed
    assert fleet.where(batch)[0] == "a" and fleet.nodes["a"].polls == polls
    fleet.clock.now += 1
    await fleet.run(1)
    assert fleet.nodes["a"].polls == polls + 1
    assert fleet.where(batch) == ("a", 1, "running")


async def test_a_running_job_silent_past_the_lease_timeout_loses_its_batch(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path, {"a": 1, "b": 1})
    batch = await fleet.one_batch_on("a")
    fleet.dispatcher.leases.heard(batch)
    await fleet.run(LEASE_TIMEOUT - 1)
    assert fleet.where(batch) == ("a", 1, "running"), "silent for less than the lease timeout"
    await fleet.run(3 + rules.MAX_BACKOFF)
    moved = fleet.ledger.batch(batch)
    assert (moved.node, moved.attempts) == ("b", 2), "the retry avoids the silent job's node"
    assert str(fleet.reason(batch)).startswith("lease expired")


async def test_a_job_its_node_forgot_fails_its_attempt_after_two_polls(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 1})
    batch = await fleet.one_batch_on("a")
    job = fleet.ledger.batch(batch).job
    fleet.nodes["a"].jobs.clear()  # scrapyd restarted: its queue and running jobs are gone
    await fleet.run(1)  # one poll without it: kept (scrapyd lists a job late, now and then)
    assert fleet.where(batch) == ("a", 1, "running")
    await fleet.run(2 + rules.MAX_BACKOFF)
    assert fleet.ledger.batch(batch).attempts == 2
    assert fleet.reason(batch) == f"job {job} vanished from a"


async def test_no_usable_node_past_the_node_timeout_aborts_the_run(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 2, "b": 2})
    for fake in fleet.nodes.values():
        fake.up = False
    batches = fleet.batches(3)
    assert not await fleet.run(NODE_TIMEOUT - 1)
    assert fleet.outcome.fatal is None
    assert await fleet.run(3)
    assert fleet.outcome.fatal is not None and "no usable scrapyd node" in fleet.outcome.fatal
    assert {fleet.ledger.batch(b).state for b in batches} == {"failed"}
    assert set(fleet.outcome.failed) == set(batches)


async def test_a_finished_job_without_a_report_fails_after_the_grace(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 1})
    batch = await fleet.one_batch_on("a")
    job = fleet.ledger.batch(batch).job
    assert job is not None
    fleet.nodes["a"].jobs[job] = "finished"  # the job ended; its report never came
    await fleet.run(3)  # three seconds of grace for the report
    assert fleet.where(batch) == ("a", 1, "running")
    await fleet.run(2 + rules.MAX_BACKOFF)
    assert fleet.reason(batch) == "job finished without a successful report"


async def test_a_node_with_fewer_slots_gets_fewer_batches(tmp_path: Path) -> None:
    """16 batches that each hold a slot for 3 s: the node with 1 slot takes about a quarter."""
    fleet = Fleet(tmp_path, {"a": 1, "b": 3})
    batches = set(fleet.batches(16))
    started: dict[str, float] = {}
    while batches - fleet.done():
        await fleet.dispatcher.tick(lambda: None)
        for batch in batches - fleet.done():
            if fleet.ledger.batch(batch).state not in ("scheduled", "running"):
                continue
            if started.setdefault(batch, fleet.clock.now) + 3 <= fleet.clock.now:
                fleet.report_done(batch)
        fleet.clock.now += 1
        assert fleet.clock.now < 1600, "16 batches of 3 s on 4 slots take seconds of the clock"
    placed = Counter({name: len(fake.scheduled) for name, fake in fleet.nodes.items()})
    assert sum(placed.values()) == 16
    assert 0 < placed["a"] < placed["b"] and placed["a"] <= 16 * 0.4, placed


class Waiting:
    """Jobs waiting in `next` on the fleet's leases, counting each look at the queue."""

    def __init__(self, fleet: Fleet, jobs: dict[str, str]) -> None:
        self.leases = fleet.dispatcher.leases
        self.looks: Counter[str] = Counter()
        grant = self.leases.grant

        def counted(job: str, node: str) -> Any:
            self.looks[job] += 1
            return grant(job, node)

        self.leases.grant = counted  # type: ignore[method-assign]
        self.tasks = {job: asyncio.create_task(self.leases.next(job, node, "00" * 32, "f"))
                      for job, node in jobs.items()}  # fmt: skip

    async def settle(self) -> None:
        """Let every woken job look (a few turns of the loop; nothing here waits on time)."""
        for _ in range(20):
            await asyncio.sleep(0)

    def answered(self) -> dict[str, dict[str, Any]]:
        return {job: task.result() for job, task in self.tasks.items() if task.done()}

    def cancel(self) -> None:
        for task in self.tasks.values():
            task.cancel()


async def test_a_new_batch_wakes_one_waiting_job_not_every_one(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 4})
    waiting = Waiting(fleet, {f"j{i}": "a" for i in range(4)})
    await waiting.settle()
    assert sum(waiting.looks.values()) == 4 and not waiting.answered()
    fleet.batches(1)
    fleet.dispatcher.wake()
    await waiting.settle()
    assert [("lease" in answer) for answer in waiting.answered().values()] == [True]
    assert sum(waiting.looks.values()) == 5, "one job looked again, not all four"
    waiting.leases.close()
    await waiting.settle()
    assert len(waiting.answered()) == 4, "the end of the run answers every waiting job"
    assert sum("done" in answer for answer in waiting.answered().values()) == 3


async def test_a_batch_the_first_waiting_job_may_not_take_goes_to_another(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 1, "b": 1})
    waiting = Waiting(fleet, {"on-a": "a", "on-b": "b"})
    await waiting.settle()
    [batch] = fleet.batches(1)
    fleet.dispatcher.attempts.avoid(batch, "a")  # a retry of what failed on node a
    fleet.dispatcher.wake()
    answer = await asyncio.wait_for(waiting.tasks["on-b"], 2)  # a lease wait is 10 s
    assert answer["lease"]["batch"] == batch
    assert not waiting.tasks["on-a"].done()
    waiting.cancel()


async def test_the_last_urls_are_shared_among_the_idle_jobs(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, {"a": 2, "b": 2})
    waiting = Waiting(fleet, {f"j{i}": "ab"[i % 2] for i in range(4)})
    await waiting.settle()
    urls = [f"http://s/{n}" for n in range(1000)]
    fleet.ledger.add_batch("r", urls)
    fleet.dispatcher.close_intake()
    await waiting.settle()
    sizes = [len(answer["lease"]["urls"]) for answer in waiting.answered().values()]
    assert sorted(sizes, reverse=True) == [250, 188, 141, 106], "what is left over 4 slots, each"
    every = [url for batch in fleet.ledger.batches() for url in fleet.ledger.payload(batch.id)]
    assert sorted(every) == sorted(urls), "every URL in exactly one batch"
    assert [b.size for b in fleet.ledger.batches("queued")] == [315]
    waiting.cancel()
