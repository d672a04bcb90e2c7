"""Plain scrapyd jobs through the console's API: scheduled on chosen nodes with arguments and
settings, cancelled, and their stats read from Scrapy's own log lines (real scrapyd nodes, a
real monitor without accounts on loopback: the local operator, still held to Origin and CSRF)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WaitFor = Callable[..., Any]
pytestmark = pytest.mark.slow


def test_schedule_cancel_and_stats_of_scrapyd_jobs(
    tmp_path: Path,
    scrapyd_node: Callable[..., Any],
    run_monitor: Callable[..., Any],
    releases: Path,
    console_api: Any,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(max_proc=2), scrapyd_node(max_proc=2)
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two})
    monitor = run_monitor("--web", "127.0.0.1:0", "--interval", "0.3",
                          "--state-dir", str(tmp_path / "state"), cwd=tmp_path)  # fmt: skip
    url = str(wait_for(lambda: monitor.find(event="web_console"), 30, what="console")["url"])
    local = console_api(url)
    assert local.get("me") | {"csrf": ""} == {
        "user": "local", "role": "operator", "operator": True, "csrf": "",
        "csrf_header": "X-CSRF-Token",
    }  # fmt: skip
    assert (
        local.call("POST", "jobs", {"nodes": ["scrapyd1"], "spider": "wait"}, csrf=False)[0] == 403
    )

    scheduled = local.post("jobs", {
        "nodes": ["scrapyd1", "scrapyd2"], "spider": "wait",
        "args": {"release": str(releases / "go")}, "settings": {"LOGSTATS_INTERVAL": "1"},
    })["jobs"]  # fmt: skip
    assert [j["node"] for j in scheduled] == ["scrapyd1", "scrapyd2"] and all(
        "job" in j for j in scheduled
    )
    first = scheduled[0]["job"]
    # the job to cancel waits on a release of its own, never given: only the cancel can end it
    second = local.post("jobs", {
        "nodes": ["scrapyd2"], "spider": "wait", "args": {"release": str(releases / "never")},
    })["jobs"][0]["job"]  # fmt: skip

    def state(node: Any, job: str) -> str | None:
        answer = node.get("listjobs.json?project=tiny")
        return next((s for s in ("pending", "running", "finished")
                     if any(j["id"] == job for j in answer[s])), None)  # fmt: skip

    def opened(node: Any, job: str) -> bool:
        try:
            with urllib.request.urlopen(f"{node.url}/logs/tiny/wait/{job}.log", timeout=10) as log:
                return b"Spider opened" in log.read()
        except OSError:
            return False

    wait_for(lambda: opened(two, second), 60, what="the second job's spider open")
    cancelled = local.post("jobs/cancel", {"node": "scrapyd2", "job": second})
    assert cancelled["previous_state"] == "running"
    (releases / "go").touch()
    wait_for(lambda: state(one, first) == "finished", 60, what="the first job finished")
    wait_for(lambda: state(two, second) == "finished", 60, what="the cancelled job ended")

    def finished_first() -> list[dict[str, Any]]:
        return [j for j in local.get("jobs") if j["id"] == first and j["state"] == "finished"]

    listed = wait_for(finished_first, 30, what="the job listed")
    assert listed[0]["node"] == "scrapyd1" and listed[0]["log"].endswith(f"/{first}.log")
    stats = local.get(f"jobs/scrapyd1/tiny/wait/{first}/stats")
    assert stats["summary"]["finish_reason"] == "finished" and stats["summary"]["items"] == 0
    assert stats["stats"]["log_count/INFO"] > 0 and stats["series"][0]["pages"] == 0
    cut = local.get(f"jobs/scrapyd2/tiny/wait/{second}/stats")  # killed: Scrapy dumped nothing
    assert cut["series"] and (
        cut["summary"] is None or cut["summary"]["finish_reason"] != "finished"
    )
    assert local.call("GET", "jobs/scrapyd1/tiny/wait/nope/stats")[0] == 502
    assert local.call("POST", "jobs", {"nodes": ["elsewhere"], "spider": "wait"})[0] == 400

    # a page on another name that resolves to this machine (DNS rebinding) gets no control
    request = urllib.request.Request(f"{url}api/jobs", data=b"{}", method="POST")
    host = f"rebound.example:{url.rsplit(':', 1)[1].strip('/')}"
    request.add_header("Host", host)
    request.add_header("Origin", f"http://{host}")
    request.add_header("X-CSRF-Token", local.csrf)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403 and b"loopback" in refused.value.read()
    actions = [(a["action"], a["result"]) for a in local.get("audit")]
    assert ("schedule_job", "ok") in actions and ("cancel_job", "ok") in actions
    assert sum(r.startswith("refused") for _, r in actions) == 2


def test_a_node_down_rule_fires_once_per_outage(
    tmp_path: Path,
    scrapyd_node: Callable[..., Any],
    run_monitor: Callable[..., Any],
    receiver: Callable[..., tuple[Any, str]],
    console_api: Any,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    one, two = scrapyd_node(), scrapyd_node()
    write_config(tmp_path, {"scrapyd1": one, "scrapyd2": two})
    hooked, hook = receiver()
    monitor = run_monitor("--web", "127.0.0.1:0", "--interval", "0.3", "--timeout", "1",
                          "--state-dir", str(tmp_path / "state"), "--alert-webhook", hook,
                          cwd=tmp_path)  # fmt: skip
    url = str(wait_for(lambda: monitor.find(event="web_console"), 30, what="console")["url"])
    local = console_api(url)
    rule = local.post("rules", {"kind": "node_down"})
    assert local.call("POST", "rules", {"kind": "node_gone"})[0] == 400
    wait_for(lambda: monitor.find(event="node_status", node="scrapyd2"), 30, what="a poll")
    assert not hooked.named("rule_fired")
    two.kill()
    fired = wait_for(lambda: hooked.named("rule_fired"), 30, what="the rule's webhook")
    assert fired[0]["rule"] == rule["id"] and fired[0]["node"] == "scrapyd2"
    assert fired[0]["text"] == "scrapyfleet: node scrapyd2 is down"
    mark = len([e for e in monitor.events if e["event"] == "cluster_status"])
    wait_for(lambda: len([e for e in monitor.events if e["event"] == "cluster_status"]) > mark + 5,
             30, what="more polls")  # fmt: skip
    assert len(hooked.named("rule_fired")) == 1  # once per outage
