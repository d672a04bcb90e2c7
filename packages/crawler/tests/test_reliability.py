"""No batch is lost: dead nodes, restarted nodes, a stopped FTP sink, a killed master.

Over 250 lines on purpose: one real-process case per way a run can break, sharing one harness.
"""

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

import psutil

from scrapyfleet.core.scrapydnodes import answers, start_node

BIN = Path(sys.executable).parent


def master_process(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [BIN / "crawl-master", "--log-format", "json", "--progress", "log", *args],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def finish(process: subprocess.Popen[bytes], timeout: float = 300) -> int:
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def base_args(cluster, site, sink, run_dir: Path, batch: int = 300) -> list[str]:
    return ["--config", str(cluster.config), "--site", site.url, "--batch-size", str(batch),
            "--index-pages", str(site.total // 30), "--concurrency", "16",
            "--feed-uri", sink.feed_uri, "--run-dir", str(run_dir)]  # fmt: skip


def test_node_killed_mid_run_its_batches_move(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=6000, latency=0.02)
    cluster = cluster_factory([2, 2, 2])
    run_dir = tmp_path / "run"
    master = master_process(
        [*base_args(cluster, site, sink, run_dir), "--node-timeout", "5"], tmp_path / "m.log"
    )
    victim = cluster.nodes[1]
    wait_for(
        lambda: ledger_rows(run_dir, f"SELECT id FROM batches WHERE node = '{victim.name}'"
                            " AND state = 'running'"),
        timeout=120, what="a batch running on the victim",
    )  # fmt: skip
    os.killpg(int(victim.pidfile.read_text()), signal.SIGKILL)  # the machine dies, jobs and all
    assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]

    assert {i["url"] for i in sink.items()} == site.listing_urls()
    result = summary(run_dir)
    assert victim.name in result["troubled_nodes"]
    moved = {a["batch"] for a in result["failed_attempts"] if a["node"] == victim.name}
    assert moved and moved <= set(result["retried_batches"])
    for batch, node in ledger_rows(run_dir, "SELECT id, node FROM batches"):
        if batch in moved:
            assert node != victim.name


def test_the_only_node_dies_the_run_aborts_without_crawling_on(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    """With no usable node left past --node-timeout the run aborts, and the master's own crawl
    stops with it (it crawled on for the rest of the index before): exit 1, named, resumable."""
    site = site_factory(total=30_000, latency=0.3)  # an index crawl of 1,000 pages: ~20 s
    cluster = cluster_factory([2])
    run_dir = tmp_path / "run"
    master = master_process(
        [*base_args(cluster, site, sink, run_dir), "--node-timeout", "3"], tmp_path / "m.log"
    )
    wait_for(lambda: ledger_rows(run_dir, "SELECT id FROM batches WHERE state = 'running'"),
             timeout=120, what="a batch running on the node")  # fmt: skip
    os.killpg(int(cluster.nodes[0].pidfile.read_text()), signal.SIGKILL)
    assert finish(master) == 1, (tmp_path / "m.log").read_text()[-3000:]
    result = summary(run_dir)
    assert "no usable scrapyd node" in (result["fatal"] or ""), result["fatal"]
    assert result["urls_total"] < site.total, "the index crawl stopped with the fleet"
    assert result["index"]["crawled"] is False and result["index"]["complete"] is False
    assert "crawl-master --resume" in (tmp_path / "m.log").read_text()


def test_node_unreachable_from_the_start_is_skipped(
    tmp_path: Path, site_factory, sink, cluster_factory, free_port, ledger_rows: Callable[..., Any]
) -> None:
    site = site_factory(total=900)
    cluster = cluster_factory([2, 2])
    dead = f"http://127.0.0.1:{free_port()}"
    run_dir = tmp_path / "run"
    master = master_process(
        [*base_args(cluster, site, sink, run_dir), "--targets", "scrapyd*", dead,
         "--node-timeout", "3", "--first-batch-size", "100"],
        tmp_path / "m.log",
    )  # fmt: skip
    assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]
    assert {i["url"] for i in sink.items()} == site.listing_urls()
    log = (tmp_path / "m.log").read_text()
    assert '"node_unreachable"' in log and "connection refused" in log
    sizes = [n for (n,) in ledger_rows(run_dir, "SELECT size FROM batches ORDER BY seq")]
    assert sizes == [100, 200, 300, 300], "batches double from --first-batch-size"
    troubled = summary(run_dir)["troubled_nodes"]
    assert list(troubled) == [dead.removeprefix("http://")], troubled
    assert troubled[dead.removeprefix("http://")].startswith("unreachable: connection refused")


def test_no_reachable_node_is_refused_up_front(
    tmp_path: Path, site_factory, sink, free_port
) -> None:
    site = site_factory(total=300)
    nodes = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    started = time.monotonic()
    result = subprocess.run(
        [BIN / "crawl-master", "--log-format", "json", "--targets", *nodes, "--site", site.url,
         "--index-pages", "10", "--feed-uri", sink.feed_uri, "--node-timeout", "3",
         "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-2000:]
    assert elapsed < 20, elapsed  # start-up and one round of node checks
    assert "crawl-master: no reachable scrapyd node" in result.stderr
    assert not (tmp_path / "run" / "ledger.sqlite").exists(), "refused before crawling"


def test_sink_stopped_mid_run_batches_retried_after_it_returns(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=1800, latency=0.01)
    cluster = cluster_factory([1, 1])
    run_dir = tmp_path / "run"
    master = master_process(
        [*base_args(cluster, site, sink, run_dir), "--max-attempts", "6"], tmp_path / "m.log"
    )
    wait_for(lambda: ledger_rows(run_dir, "SELECT id FROM batches WHERE state = 'done'"),
             timeout=120, what="a first batch done")  # fmt: skip
    sink.stop()
    failed_upload = "SELECT batch FROM attempts WHERE reason = 'feed upload failed'"
    wait_for(lambda: ledger_rows(run_dir, failed_upload), timeout=120, what="an upload to fail")
    sink.start()
    assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]
    assert {i["url"] for i in sink.items()} == site.listing_urls()
    assert summary(run_dir)["retried_batches"]


def test_sink_never_back_exits_1_naming_the_batches(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    ledger_rows: Callable[..., Any],
    wait_for: Callable[..., Any],
) -> None:
    # A sink down from the start is refused before the crawl (test_own_project.py); this one
    # goes away once the first batch is queued, before a feed could be stored.
    site = site_factory(total=600, latency=0.05)
    cluster = cluster_factory([2])
    run_dir = tmp_path / "run"
    master = master_process(
        [*base_args(cluster, site, sink, run_dir), "--max-attempts", "2", "--concurrency", "2"],
        tmp_path / "m.log",
    )  # fmt: skip
    wait_for(lambda: ledger_rows(run_dir, "SELECT id FROM batches"), timeout=120,
             what="a first batch")  # fmt: skip
    sink.stop()
    assert finish(master) == 1
    result = summary(run_dir)
    assert result["failed_batches"]
    assert set(result["failed_batches"].values()) == {"feed upload failed"}
    log = (tmp_path / "m.log").read_text()
    for batch in result["failed_batches"]:
        assert f"batch {batch} failed: feed upload failed" in log
    assert not list(sink.root.glob("*.jl")), "nothing may land while the sink is down"


def test_master_killed_then_resumed(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=3000, latency=0.01)
    cluster = cluster_factory([1, 1])
    run_dir = tmp_path / "run"
    master = master_process(base_args(cluster, site, sink, run_dir), tmp_path / "m1.log")
    wait_for(lambda: len(ledger_rows(run_dir, "SELECT id FROM batches WHERE state = 'done'")) >= 2,
             timeout=180, what="two batches done")  # fmt: skip
    os.kill(master.pid, signal.SIGKILL)
    master.wait(timeout=10)
    before = dict(ledger_rows(run_dir, "SELECT id, attempts FROM batches WHERE state = 'done'"))

    resumed = master_process(["--resume", str(run_dir)], tmp_path / "m2.log")
    assert finish(resumed) == 0, (tmp_path / "m2.log").read_text()[-3000:]
    after = dict(ledger_rows(run_dir, "SELECT id, attempts FROM batches"))
    assert all(after[batch] == attempts for batch, attempts in before.items()), (
        "a done batch ran again"
    )
    assert {i["url"] for i in sink.items()} == site.listing_urls()
    assert summary(run_dir)["ok"]


def test_node_restarted_mid_run_lost_jobs_rerun(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=1800, latency=0.02)
    cluster = cluster_factory([2])
    node = cluster.nodes[0]
    run_dir = tmp_path / "run"
    master = master_process(base_args(cluster, site, sink, run_dir), tmp_path / "m.log")
    wait_for(lambda: ledger_rows(run_dir, "SELECT id FROM batches WHERE state = 'running'"),
             timeout=120, what="a running batch")  # fmt: skip
    os.killpg(int(node.pidfile.read_text()), signal.SIGKILL)
    wait_for(lambda: not answers(node.url), timeout=10, what="the node to die")
    start_node(node)
    wait_for(lambda: answers(node.url), timeout=60, what="the node to come back")
    assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]
    reasons = [
        r for (r,) in ledger_rows(run_dir, "SELECT reason FROM attempts WHERE outcome = 'failed'")
    ]
    assert any("vanished" in r for r in reasons), reasons
    assert {i["url"] for i in sink.items()} == site.listing_urls()


def test_sigterm_interrupts_cleanly_and_the_run_resumes(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=900, latency=0.05)
    cluster = cluster_factory([1])
    run_dir = tmp_path / "run"
    args = [*base_args(cluster, site, sink, run_dir), "--concurrency", "2"]
    master = master_process(args, tmp_path / "m1.log")
    wait_for(lambda: ledger_rows(run_dir, "SELECT id FROM batches WHERE state = 'running'"),
             timeout=120, what="a running batch")  # fmt: skip
    started = time.monotonic()
    master.send_signal(signal.SIGTERM)
    assert finish(master, timeout=15) == 1
    assert time.monotonic() - started < 15
    log = (tmp_path / "m1.log").read_text()
    assert "Traceback" not in log and f"crawl-master --resume {run_dir}" in log
    assert summary(run_dir)["reason"] == "shutdown"

    resumed = master_process(["--resume", str(run_dir)], tmp_path / "m2.log")
    assert finish(resumed) == 0, (tmp_path / "m2.log").read_text()[-3000:]
    assert {i["url"] for i in sink.items()} == site.listing_urls()


def job_process(job: str) -> psutil.Process | None:
    """The Scrapy process scrapyd runs for `job`."""
    for process in psutil.process_iter(["cmdline"]):
        if f"_job={job}" in (process.info["cmdline"] or []):
            return process
    return None


def test_job_killed_holding_a_lease_its_batch_goes_elsewhere(
    tmp_path: Path,
    site_factory,
    sink,
    cluster_factory,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=2400, latency=0.1)
    cluster = cluster_factory([1, 1])
    run_dir = tmp_path / "run"
    master = master_process(base_args(cluster, site, sink, run_dir), tmp_path / "m.log")
    # A job on its second lease or later: it already did a batch in this process.
    held = wait_for(
        lambda: ledger_rows(run_dir, "SELECT b.id, b.job FROM batches b WHERE b.state ="
                            " 'running' AND (SELECT COUNT(*) FROM attempts a WHERE a.job = b.job"
                            " AND a.outcome = 'done') > 0"),
        timeout=120, what="a job holding its second lease",
    )  # fmt: skip
    batch, job = held[0]
    victim = wait_for(lambda: job_process(job), timeout=30, what=f"the process of {job}")
    # A process of this run's job: the machine dies under it, the node lives on.
    os.kill(victim.pid, signal.SIGKILL)
    assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]

    assert {item["url"] for item in sink.items()} == site.listing_urls(), "nothing lost"
    attempts = ledger_rows(run_dir, f"SELECT job, outcome FROM attempts WHERE batch = '{batch}'")
    assert (job, "failed") in attempts and any(
        other != job and outcome == "done" for other, outcome in attempts
    ), attempts
    assert batch in summary(run_dir)["retried_batches"]


HOSTILE_NODE = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KIND = sys.argv[1]

class Hostile(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            if KIND == "nested":
                self.wfile.write(b"[" * 100_000 + b"]" * 100_000)
            else:  # 200 MB of one JSON string, streamed
                self.wfile.write(b'{"status": "ok", "x": "')
                for _ in range(200):
                    self.wfile.write(b"x" * 1024 * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = do_GET

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def test_hostile_nodes_are_set_aside_with_the_reason(
    tmp_path: Path, site_factory, sink, cluster_factory
) -> None:
    """A node answering JSON nested 100,000 deep and one answering 200 MB: crawl-master neither
    hangs nor dies; it names both and crawls everything on the real node."""
    site = site_factory(total=600)
    cluster = cluster_factory([2])
    hostile = []
    for kind in ("nested", "huge"):
        process = subprocess.Popen([sys.executable, "-c", HOSTILE_NODE, kind],
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert process.stdout is not None
        hostile.append((process, f"http://127.0.0.1:{process.stdout.readline().strip()}"))
    run_dir = tmp_path / "run"
    try:
        master = master_process(
            [*base_args(cluster, site, sink, run_dir), "--targets", "scrapyd*",
             *(url for _, url in hostile), "--node-timeout", "3"],
            tmp_path / "m.log",
        )  # fmt: skip
        assert finish(master) == 0, (tmp_path / "m.log").read_text()[-3000:]
    finally:
        for process, _ in hostile:
            process.kill()
            process.wait()
    assert {i["url"] for i in sink.items()} == site.listing_urls()
    troubled = summary(run_dir)["troubled_nodes"]
    nested, huge = (url.removeprefix("http://") for _, url in hostile)
    assert "nested deeper" in troubled[nested] and "over 8 MiB" in troubled[huge], troubled
