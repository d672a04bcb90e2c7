"""The monitor's web console, metrics and alerts end to end: a real `monitor` process, real
scrapyd nodes, real HTTP. crawl-master does not serve metrics yet: a small aiohttp server with a
real prometheus_client registry stands in for it (the names of
`scrapyfleet.monitor.peermetrics`).

Over 250 lines on purpose: the console's cases share one real monitor process and its stand-ins.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

NodeFactory = Callable[..., Any]
WaitFor = Callable[..., Any]
INTERVAL = "0.3"
PROJECT = "tiny"  # conftest's project


def started(monitor: Any, wait_for: WaitFor, event: str) -> str:
    """The URL a started monitor logged in `event` (web_console, metrics_serving)."""
    found = wait_for(lambda: monitor.find(event=event), 30, what=event)
    return str(found["url"])


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def listjobs(node: Any) -> dict[str, int]:
    answer = node.get(f"listjobs.json?project={PROJECT}")
    return {state: len(answer[state]) for state in ("pending", "running", "finished")}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def polls(monitor: Any) -> int:
    return len([e for e in monitor.events if e["event"] == "cluster_status"])


@pytest.mark.slow
def test_metrics_node_gauges_equal_listjobs(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: Callable[..., Any],
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(), scrapyd_node()
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two}, slots=1)
    one.schedule(release=str(releases / "a"))
    one.schedule(release=str(releases / "b"))
    two.schedule(release=str(releases / "c"))
    (releases / "c").touch()
    monitor = run_monitor("--metrics", "127.0.0.1:0", "--interval", INTERVAL, cwd=tmp_path)
    url = started(monitor, wait_for, "metrics_serving")

    def gauges(node: str) -> dict[str, int]:
        samples = scrape(url)
        key = "scrapyfleet_monitor_node_jobs"
        return {
            state: int(samples.get((key, (("node", node), ("state", state))), -1))
            for state in ("pending", "running", "finished")
        }

    expected = {"scrapyd1": {"pending": 1, "running": 1, "finished": 0},
                "scrapyd2": {"pending": 0, "running": 0, "finished": 1}}  # fmt: skip
    for name, node in (("scrapyd1", one), ("scrapyd2", two)):
        want = expected[name]
        wait_for(lambda n=node, w=want: listjobs(n) == w, 30, what=f"{name} settled")
        wait_for(lambda n=node, m=name: gauges(m) == listjobs(n), 30, what=f"{name} gauges")
    samples = scrape(url)
    assert samples[("scrapyfleet_monitor_node_up", (("node", "scrapyd1"),))] == 1
    assert samples[("scrapyfleet_monitor_node_slots", (("node", "scrapyd2"),))] == 1
    assert samples[("scrapyfleet_monitor_polls_total", ())] >= 1
    count = ("scrapyfleet_monitor_poll_duration_seconds_count", (("node", "scrapyd1"),))
    assert samples[count] >= 1

    one.kill()
    wait_for(
        lambda: scrape(url).get(("scrapyfleet_monitor_node_up", (("node", "scrapyd1"),))) == 0,
        10,
        what="scrapyd1 down in metrics",
    )
    assert gauges("scrapyd1") == {"pending": -1, "running": -1, "finished": -1}  # not stale


@pytest.mark.slow
def test_console_requires_credentials_and_proxies_logs_with_the_nodes_own(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: Callable[..., Any],
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = scrapyd_node(username="ops", password="node-secret")
    write_config(tmp_path, {"secured": node}, username="ops", password="node-secret")
    job = node.schedule(release=str(releases / "done"))
    (releases / "done").touch()
    monkeypatch.setenv("SCRAPYFLEET_MONITOR_WEB_PASSWORD", "console secret")
    monitor = run_monitor(
        "--web", "127.0.0.1:0", "--web-user", "admin", "--interval", INTERVAL, cwd=tmp_path
    )
    url = started(monitor, wait_for, "web_console")
    me = ("admin", "console secret")

    status, headers, _ = get(url)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert get(url, ("admin", "wrong"))[0] == 401
    assert get(url + "snapshot.json", ("ops", "node-secret"))[0] == 401
    status, headers, page = get(url, me)
    assert status == 200 and b'src="static/console.js"' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    for asset in ("console.js", "console.css"):
        assert get(url + "static/" + asset, me)[0] == 200

    def finished_job() -> dict[str, Any] | None:
        snapshot = json.loads(get(url + "snapshot.json", me)[2])
        jobs = [j for j in snapshot["nodes"][0]["jobs"] if j["id"] == job]
        return jobs[0] if jobs and jobs[0]["state"] == "finished" else None

    found = wait_for(finished_job, 30, what="job finished")
    assert found["log"] == f"/nodes/secured/logs/{PROJECT}/wait/{job}.log"
    status, headers, log = get(url + found["log"][1:], me)
    assert status == 200, log
    assert headers["Content-Type"].startswith("text/plain") and b"Spider opened" in log
    assert get(url + found["log"][1:])[0] == 401
    assert get(url + f"nodes/elsewhere/logs/{PROJECT}/wait/{job}.log", me)[0] == 404
    assert get(url + f"nodes/secured/logs/{PROJECT}/wait/..%2F..%2Fx.log", me)[0] in (400, 404)
    assert get(url + f"nodes/secured/logs/{PROJECT}/.wait/{job}.log", me)[0] == 400
    assert get(url + f"nodes/secured/logs/{PROJECT}/wait/nope.log", me)[0] == 404

    request = urllib.request.Request(url + "events")
    request.add_header(
        "Authorization", "Basic " + base64.b64encode(b"admin:console secret").decode()
    )
    with urllib.request.urlopen(request, timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert stream.readline() == b"event: snapshot\n"
        assert (
            json.loads(stream.readline().removeprefix(b"data: "))["nodes"][0]["name"] == "secured"
        )


def run_monitor_once(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "scrapyfleet.monitor.cli", "--log-format", "json", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_non_loopback_console_without_credentials_exits_2_before_binding(
    tmp_path: Path, free_port: Callable[[], int]
) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYFLEET_")}
    refused = run_monitor_once("--targets", dead, "--web", f"0.0.0.0:{port}", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert (
        "not a loopback address" in refused.stderr
        and "SCRAPYFLEET_MONITOR_WEB_PASSWORD" in refused.stderr
    )
    assert refused.stdout == ""
    with socket.socket() as s:
        s.bind(("0.0.0.0", port))  # never bound by the monitor

    no_password = run_monitor_once("--targets", dead, "--web-user", "admin", cwd=tmp_path, env=env)
    assert no_password.returncode == 2 and "--web-user needs a password" in no_password.stderr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run_monitor_once("--targets", dead, "--once", "--web", busy, cwd=tmp_path, env=env)
    assert result.returncode == 2 and "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_crawl_panel_and_crawl_finished_alerted_once(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: Callable[..., Any],
    crawl_master_stub: Callable[[], tuple[Any, str]],
    receiver: Callable[..., tuple[Any, str]],
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    write_config(tmp_path, {"scrapyd1": scrapyd_node()})
    (crawl, crawl_url), (hooked, hook) = crawl_master_stub(), receiver()
    crawl.progress(landed=100, pending=900, pages=110)
    monitor = run_monitor(
        "--web", "127.0.0.1:0", "--crawl-metrics", crawl_url, "--alert-webhook", hook,
        "--interval", INTERVAL, cwd=tmp_path,
    )  # fmt: skip
    url = started(monitor, wait_for, "web_console")

    def panel() -> dict[str, Any]:
        status, _, body = get(url + "snapshot.json")  # 503 until the first poll
        return dict(json.loads(body)["crawl"]) if status == 200 else {}

    first = wait_for(lambda: (p := panel()).get("state") == "ok" and p, 30, what="crawl panel")
    assert first["urls"]["landed"] == 100 and first["batches"]["running"] == 3
    assert first["pages"] == 110 and first["outcome"] is None and first["nodes"]["usable"] == 3
    crawl.progress(landed=400, pending=600, pages=450)
    moving = wait_for(lambda: (p := panel())["pages"] == 450 and p, 30, what="progress")
    assert moving["pages_per_second"] > 0 and moving["eta_seconds"] > 0

    crawl.finished.labels("ok").set(1)
    wait_for(lambda: hooked.named("crawl_finished"), 30, what="crawl_finished alert")
    mark = polls(monitor)
    wait_for(lambda: polls(monitor) >= mark + 4, 30, what="four more polls")
    (alert,) = hooked.named("crawl_finished")
    assert alert["level"] == "info" and alert["outcome"] == "ok" and "timestamp" in alert
    assert alert["urls"]["landed"] == 400 and not hooked.named("crawl_failed")
    assert panel()["outcome"] == "ok"
    assert monitor.find(event="alert_sent", alert="crawl_finished")


@pytest.mark.slow
def test_one_node_down_per_outage_delivered_despite_two_500s(
    tmp_path: Path,
    scrapyd_node: NodeFactory,
    run_monitor: Callable[..., Any],
    receiver: Callable[..., tuple[Any, str]],
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(), scrapyd_node()
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two})
    (steady, steady_url), (flaky, flaky_url) = receiver(), receiver(fail=2)
    monitor = run_monitor(
        "--alert-webhook", steady_url, "--alert-webhook", flaky_url,
        "--interval", INTERVAL, "--timeout", "1", cwd=tmp_path,
    )  # fmt: skip
    wait_for(lambda: monitor.find(event="node_status", node="scrapyd2"), 30, what="first poll")
    assert not steady.received

    one.kill()
    for hooked in (steady, flaky):
        wait_for(lambda r=hooked: r.named("node_down"), 30, what="node_down delivered")
    mark = polls(monitor)
    wait_for(lambda: polls(monitor) >= mark + 5, 30, what="five more polls")
    for hooked in (steady, flaky):
        (down,) = hooked.named("node_down")
        assert (down["node"], down["reason"], down["level"]) == (
            "scrapyd1",
            "connection refused",
            "warning",
        )
    assert flaky.requests == 3
    assert monitor.find(event="alert_sent", alert="node_down", attempts=3)
    assert len([e for e in monitor.events if e["event"] == "node_down"]) == 1

    one.start()
    for hooked in (steady, flaky):
        wait_for(lambda r=hooked: r.named("node_recovered"), 30, what="node_recovered")
    assert len(steady.named("node_down")) == 1
