"""The console's control API end to end: a real monitor with a state directory and accounts,
real crawl-master runs over real scrapyd nodes and a demo site, real webhooks. Timers use a cron
expression with a seconds field (cronsim's six-field form, `*/N * * * * *`): the same library
and code path as a minute cron, in seconds of real time, across a real monitor restart."""

from __future__ import annotations

from collections.abc import Callable
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
