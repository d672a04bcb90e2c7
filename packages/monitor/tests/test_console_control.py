"""The console's control API end to end: a real monitor with a state directory and accounts,
real crawl-master runs over real scrapyd nodes and a demo site, real webhooks. Timers use a cron
expression with a seconds field (cronsim's six-field form, `*/N * * * * *`): the same library
and code path as a minute cron, in seconds of real time, across a real monitor restart."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WaitFor = Callable[..., Any]
pytestmark = pytest.mark.slow


def definition(name: str, fleet: Any, total: int, **options: object) -> dict[str, Any]:
    return {"name": name, "project_dir": str(fleet.root), "spider": "distr",
            "targets": ["scrapyd*"], "options": fleet.options(total, **options)}  # fmt: skip


def run_state(api: Any, run_id: str) -> str:
    return str(api.get(f"runs/{run_id}")["state"])


def test_roles_csrf_origin_and_the_audit_log(
    fleet: Callable[..., Any],
    console: Callable[..., Any],
    console_api: Any,
    wait_for: WaitFor,
) -> None:
    site = fleet(60, nodes=1)
    _, url = console(site.root / "scrapy.cfg")
    ops, eve, nobody = console_api(url, "ops"), console_api(url, "eve"), console_api(url)
    assert nobody.call("GET", "crawls")[0] == 401
    assert eve.get("me")["role"] == "viewer" and ops.get("me")["operator"] is True
    ops.post("crawls", definition("small", site, 60))
    assert [c["name"] for c in eve.get("crawls")] == ["small"]  # a viewer sees

    for refused, why in (
        (eve.call("POST", "crawls/small/start"), "operators only"),
        (eve.call("POST", "timers", {"definition": "small", "kind": "cron", "spec": "* * * * *"}),
         "operators only"),
        (eve.call("POST", "jobs", {"nodes": ["scrapyd1"], "spider": "distr"}), "operators only"),
        (ops.call("POST", "crawls/small/start", origin="http://evil.example"), "cross-origin"),
        (ops.call("POST", "crawls/small/start", origin=None), "no Origin"),
        (ops.call("POST", "crawls/small/start", csrf=False), "X-CSRF-Token"),
    ):  # fmt: skip
        assert refused[0] == 403 and why in refused[1]["error"], refused
    assert eve.get("runs") == []  # nothing started

    run = ops.post("crawls/small/start")
    assert ops.call("POST", "crawls/small/start")[0] == 409  # one run of a crawl at a time
    wait_for(lambda: run_state(ops, run["id"]) == "finished", 180, what="the run to finish")
    shown = ops.get(f"runs/{run['id']}")
    assert shown["summary"]["ok"] and shown["summary"]["urls"]["landed"] == 60
    assert shown["summary"]["urls_total"] == 60 and shown["summary"]["index"]["complete"]
    assert shown["series"], "the run's samples over time"

    audit = ops.get("audit")
    refusals = [a for a in audit if a["result"].startswith("refused")]
    assert len(refusals) == 6 and {a["who"] for a in refusals} == {"eve", "ops"}
    (started,) = [a for a in audit if a["action"] == "start_crawl" and a["result"] == "ok"]
    assert started["who"] == "ops" and started["target"] == "small"
    assert any(a["action"] == "start_crawl" and a["result"].startswith("failed") for a in audit)
    assert any(a["action"] == "save_crawl" and a["who"] == "ops" for a in audit)


def events(api: Any, name: str) -> list[dict[str, Any]]:
    return list(reversed(api.get(f"events?event={name}")))  # oldest first


def test_timers_fire_across_a_restart_and_skip_an_overlap(
    fleet: Callable[..., Any],
    console: Callable[..., Any],
    console_api: Any,
    receiver: Callable[..., tuple[Any, str]],
    wait_for: WaitFor,
) -> None:
    site = fleet(120, nodes=1, latency=0.05)
    config = site.root / "scrapy.cfg"
    hooked, hook = receiver()
    monitor, url = console(config, "--alert-webhook", hook)
    ops = console_api(url, "ops")
    # a crawl whose crawl-master ends at once (no such target): each firing is a short real run
    ops.post("crawls", {**definition("brief", site, 30), "targets": ["nosuchnode"]})
    ops.post("crawls", definition("long", site, 120, concurrency=1))
    ops.post("rules", {"kind": "timer_missed", "definition": "long"})
    every = 10  # seconds: longer than a brief run (an overlap would skip a firing)
    spec = f"*/{every} * * * * *"
    timer = ops.post("timers", {"definition": "brief", "kind": "cron", "spec": spec})
    assert timer["next_due"] % every == 0 and timer["state"] == "waiting"
    wait_for(lambda: len(events(ops, "timer_fired")) >= 2, 90, what="two firings")
    first, second = events(ops, "timer_fired")[:2]
    assert second["due"] - first["due"] == every  # in a row: no due time left out
    assert not events(ops, "timer_skipped")
    wait_for(lambda: events(ops, "run_failed"), 30, what="the brief run's end")
    assert "nosuchnode" in events(ops, "run_failed")[0]["reason"]

    # down across a due time: the missed firing runs once at start (the timer's `missed: run`)
    code, _ = monitor.stop()
    assert code == 0
    due = sqlite_timer(config)["next_due"]
    wait_for(lambda: time.time() > due + 1, 30, what="the next due time to pass")
    monitor, url = console(config, "--alert-webhook", hook)
    ops = console_api(url, "ops")
    caught = wait_for(lambda: [e for e in events(ops, "timer_fired") if e["due"] == due], 60,
                      what="the missed firing")[0]  # fmt: skip
    assert caught["missed"] is True
    wait_for(lambda: [e for e in events(ops, "timer_fired") if e["due"] > due], 60,
             what="a regular firing after the restart")  # fmt: skip
    assert ops.get("timers")[0]["id"] == timer["id"]  # the timer came back from the database

    ops.call("DELETE", f"timers/{timer['id']}")
    ops.post("timers", {"definition": "long", "kind": "interval", "spec": "2"})

    def long_skips() -> list[dict[str, Any]]:
        return [e for e in events(ops, "timer_skipped") if e["definition"] == "long"]

    wait_for(long_skips, 60, what="an overlapping firing skipped")
    assert long_skips()[0]["reason"].startswith("overlap: run long-")
    assert len([r for r in ops.get("runs") if r["definition"] == "long"]) == 1
    alert = wait_for(lambda: hooked.named("rule_fired"), 30, what="the timer_missed alert")[0]
    assert alert["kind"] == "timer_missed" and "did not fire: overlap" in alert["text"]


def sqlite_timer(config: Path) -> dict[str, Any]:
    """The first timer straight from the state database (the monitor is down)."""
    with sqlite3.connect(config.parent.parent / "state" / "console.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM timers ORDER BY id LIMIT 1").fetchone())


def test_a_failed_urls_rule_notifies_and_stops_the_crawl(
    tmp_path: Path,
    fleet: Callable[..., Any],
    console: Callable[..., Any],
    console_api: Any,
    receiver: Callable[..., tuple[Any, str]],
    wait_for: WaitFor,
) -> None:
    broken = [f"/properties/property_{i:06d}.html" for i in range(10)]
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"rules": [{"paths": broken, "status": 500}]}))
    site = fleet(300, nodes=1, faults=plan, latency=0.05)
    hooked, hook = receiver()
    _, url = console(site.root / "scrapy.cfg", "--alert-webhook", hook)
    ops = console_api(url, "ops")
    ops.post("crawls", definition("flaky", site, 300, concurrency=2, **{"max-attempts": 1}))
    rule = ops.post("rules", {"kind": "failed_urls", "definition": "flaky", "threshold": 5,
                              "stop": True})  # fmt: skip
    run = ops.post("crawls/flaky/start")
    alert = wait_for(lambda: hooked.named("rule_fired"), 180, what="the rule's webhook")[0]
    assert alert["rule"] == rule["id"] and alert["run"] == run["id"]
    assert alert["text"].startswith("scrapyfleet: run ") and "failed_urls" in alert["text"]
    wait_for(lambda: run_state(ops, run["id"]) == "stopped", 60, what="the crawl stopped")
    shown = ops.get(f"runs/{run['id']}")
    assert shown["summary"]["reason"] != "finished" and shown["summary"]["urls"]["pending"] > 0
    stop = [a for a in ops.get("audit") if a["action"] == "stop_run"]
    assert stop and stop[0]["who"] == f"rule {rule['id']}" and stop[0]["result"] == "ok"
