"""The `monitor` CLI end to end: real scrapyd nodes, JSON-line events, faults and signals.

Over 250 lines on purpose: one case per option, fault and signal of one console script.
"""

from __future__ import annotations

import http.server
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

NodeFactory = Callable[..., Any]  # conftest: factory of started ScrapydNode
MonitorFactory = Callable[..., Any]  # conftest: factory of MonitorProcess
WaitFor = Callable[..., Any]


def job_ids(monitor: Any, node: str, key: str) -> set[str]:
    """Every job id listed under `key` ("started"/"completed") in `node`'s node_status events."""
    statuses = [e for e in monitor.events if e["event"] == "node_status" and e["node"] == node]
    return {job for e in statuses for job in e[key]}


@pytest.mark.slow
def test_counts_follow_jobs_through_their_states(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: MonitorFactory,
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(), scrapyd_node()
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two})
    monitor = run_monitor("--targets", "scrapyd*", "--interval", "0.3", cwd=tmp_path)
    wait_for(lambda: monitor.find(event="node_status", node="scrapyd2"), 30, what="first poll")

    first = one.schedule(release=str(releases / "first"))
    second = one.schedule(release=str(releases / "second"))

    wait_for(
        lambda: monitor.find(event="node_status", node="scrapyd1", running=1, pending=1),
        30,
        what="scrapyd1: one running, one pending",
    )
    wait_for(
        lambda: monitor.find(event="cluster_status", nodes_up=2, pending=1, running=1),
        30,
        what="cluster totals",
    )

    (releases / "first").touch()
    wait_for(
        lambda: monitor.find(event="node_status", node="scrapyd1", finished=1, running=1),
        30,
        what="first finished, second running",
    )
    assert first in job_ids(monitor, "scrapyd1", "completed")
    assert {first, second} <= job_ids(monitor, "scrapyd1", "started")

    (releases / "second").touch()
    wait_for(
        lambda: monitor.find(event="node_status", node="scrapyd1", finished=2, running=0),
        30,
        what="every job finished",
    )
    assert job_ids(monitor, "scrapyd1", "completed") == {first, second}
    idle = [e for e in monitor.events if e["event"] == "node_status" and e["node"] == "scrapyd2"]
    assert idle and all((e["pending"], e["running"], e["finished"]) == (0, 0, 0) for e in idle)
    assert not monitor.find(event="job_vanished")

    code, stderr = monitor.stop(signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in stderr
    last = monitor.events[-1]
    assert last["event"] == "cluster_status"
    assert {"level", "timestamp"} <= last.keys()


@pytest.mark.slow
def test_dead_node_is_reported_and_recovers_and_its_lost_job_vanishes(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: MonitorFactory,
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(), scrapyd_node()
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two})
    interval, timeout = 0.5, 1.0
    monitor = run_monitor(
        "--targets", "scrapyd1", "scrapyd2", "--interval", str(interval), "--timeout", str(timeout),
        cwd=tmp_path,
    )  # fmt: skip
    lost = one.schedule(release=str(releases / "lost"))
    wait_for(
        lambda: monitor.find(event="node_status", node="scrapyd1", running=1), 30, what="running"
    )

    one.kill()  # kill -9: scrapyd forgets its running job; the job's process is orphaned
    mark = len(monitor.events)
    # slack for a loaded machine on top of the one interval + timeout
    refused = {"event": "node_unreachable", "node": "scrapyd1", "reason": "connection refused"}
    wait_for(lambda: monitor.find(mark, **refused), interval + timeout + 5, what="node_unreachable")
    assert monitor.find(mark, **refused)["url"] == one.url
    wait_for(
        lambda: monitor.find(mark, event="cluster_status", nodes_up=1, nodes_down=1),
        10,
        what="1 down",
    )
    later = len(monitor.events)
    wait_for(
        lambda: monitor.find(later, event="node_status", node="scrapyd2"),
        10,
        what="scrapyd2 polled",
    )
    assert not monitor.find(mark, event="node_recovered", node="scrapyd1")

    one.start()
    wait_for(
        lambda: monitor.find(mark, event="node_recovered", node="scrapyd1"), 30, what="recovery"
    )
    wait_for(lambda: monitor.find(mark, event="job_vanished"), 10, what="job_vanished")
    vanished = monitor.find(mark, event="job_vanished")
    assert (vanished["node"], vanished["job"], vanished["spider"]) == ("scrapyd1", lost, "wait")
    assert vanished["level"] == "warning"
    assert monitor.stop(signal.SIGINT)[0] == 0


@pytest.mark.slow
def test_oversized_argument_job_vanishes(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: MonitorFactory,
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    node = scrapyd_node()  # max_proc=1: the second job waits while the first runs
    write_config(tmp_path, {"scrapyd1": node})
    monitor = run_monitor("--targets", "scrapyd1", "--interval", "0.2", cwd=tmp_path)
    node.schedule(release=str(releases / "first"))
    doomed = node.schedule(release=str(releases / "never"), padding="x" * (129 * 1024))
    wait_for(
        lambda: monitor.find(event="node_status", node="scrapyd1", running=1, pending=1),
        30,
        what="oversized job seen pending",
    )
    (releases / "first").touch()
    wait_for(lambda: monitor.find(event="job_vanished"), 30, what="job_vanished")
    assert monitor.find(event="job_vanished")["job"] == doomed


class GarbageHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with 200 and a body that is not JSON."""

    def do_GET(self) -> None:
        body = b"<html>I am not scrapyd</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


class HangingHandler(GarbageHandler):
    """Never answers until the test releases it."""

    release = threading.Event()

    def do_GET(self) -> None:
        self.release.wait(30)


@pytest.fixture
def stub_server() -> Iterator[Callable[[type[http.server.BaseHTTPRequestHandler]], str]]:
    """Factory of stub HTTP servers on free loopback ports, shut down at teardown."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: type[http.server.BaseHTTPRequestHandler]) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    HangingHandler.release.set()
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_garbage_and_hanging_nodes_do_not_hold_up_the_others(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: MonitorFactory,
    stub_server: Callable[..., str],
    wait_for: WaitFor,
) -> None:
    good = scrapyd_node()
    garbage, hanging = stub_server(GarbageHandler), stub_server(HangingHandler)
    monitor = run_monitor(
        "--targets", good.url, garbage, hanging, "--project", "tiny",
        "--interval", "0.2", "--timeout", "1",
        cwd=tmp_path,
    )  # fmt: skip
    good_name = good.url.removeprefix("http://")
    wait_for(
        lambda: len([e for e in monitor.events if e["event"] == "cluster_status"]) >= 3,
        30,
        what="three polls",
    )
    bad = monitor.find(event="node_unreachable", url=garbage)
    assert bad["reason"] == "not JSON"
    slow = monitor.find(event="node_unreachable", url=hanging)
    assert slow["reason"] == "timeout after 1.0s"
    assert monitor.find(event="node_status", node=good_name, pending=0, running=0)
    assert monitor.find(event="cluster_status", nodes_up=1, nodes_down=2)
    code, stderr = monitor.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in stderr


def run_once(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapyfleet.monitor.cli", "--log-format", "json", "--once", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_target_exits_2_with_known_names(tmp_path: Path) -> None:
    (tmp_path / "scrapy.cfg").write_text(
        "[deploy:scrapyd1]\nurl = http://127.0.0.1:1\n[deploy:scrapyd2]\nurl = http://127.0.0.1:2\n"
    )
    nested = tmp_path / "sub"
    nested.mkdir()
    result = run_once("--targets", "scrapyd1", "web*", cwd=nested)  # scrapy.cfg found upward
    assert result.returncode == 2
    assert "unknown target 'web*'" in result.stderr
    assert "scrapyd1, scrapyd2" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_once_resolves_globs_urls_and_uses_basic_auth(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    free_port: Callable[[], int],
    write_config: Callable[..., Path],
) -> None:
    node = scrapyd_node(username="ops", password="s3cret")
    config = write_config(tmp_path, {"secured": node}, username="ops", password="s3cret")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    ok = run_once("--config", str(config), "--targets", "sec*", cwd=elsewhere)
    assert ok.returncode == 0, ok.stderr
    assert '"node": "secured"' in ok.stdout and '"nodes_up": 1' in ok.stdout

    with_url = run_once(
        "--targets", f"http://ops:s3cret@127.0.0.1:{node.port}", "--project", "tiny", cwd=elsewhere
    )
    assert with_url.returncode == 0, with_url.stdout

    dead = f"http://127.0.0.1:{free_port()}"
    refused = run_once("--config", str(config), "--targets", "secured", dead, cwd=elsewhere)
    assert refused.returncode == 1
    assert '"reason": "connection refused"' in refused.stdout

    no_auth = run_once("--targets", node.url, "--project", "tiny", cwd=elsewhere)
    assert no_auth.returncode == 1
    assert '"reason": "HTTP 401"' in no_auth.stdout
