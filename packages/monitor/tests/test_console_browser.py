"""The console's control side in a real headless Chromium (Debian's, via Playwright): an operator
starts a saved crawl, watches it to its summary, stops a second one midway and resumes it to the
end; a viewer is offered no control. Real monitor, crawl-master, scrapyd and demo site."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # conftest's `browser` launches it
WaitFor = Callable[..., Any]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def test_operator_runs_crawls_from_the_page_and_a_viewer_cannot(
    fleet: Callable[..., Any],
    console: Callable[..., Any],
    console_api: Any,
    browser: Any,
    wait_for: WaitFor,
) -> None:
    site = fleet(300, nodes=1, latency=0.05)
    _, url = console(site.root / "scrapy.cfg")
    ops = console_api(url, "ops")
    for name, extra in (("whole", {}), ("halted", {"concurrency": 1})):  # the site's 300 each
        options = site.options(300, **extra)
        ops.post("crawls", {"name": name, "project_dir": str(site.root), "spider": "distr",
                            "targets": ["scrapyd*"], "options": options})  # fmt: skip

    context = browser.new_context(http_credentials={"username": "ops", "password": "ops-secret"})
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(url) else elsewhere.append(r.url))
    page.goto(url)
    page.wait_for_selector("body[data-role=operator] #control:not([hidden])")
    assert page.locator("#whoami").inner_text() == "ops · operator"

    page.locator("tr[data-crawl=whole] button[data-action=start]").dispatch_event("click")
    finished = "#runs tr[data-run^='whole-'][data-state=finished]"
    page.wait_for_selector(finished, timeout=180_000)
    page.locator(f"{finished} button[data-action=details]").dispatch_event("click")
    landed = page.locator("#run-summary [data-field=landed] dd")
    wait_for(lambda: landed.count() and landed.inner_text() == "300", 30,
             what=f"the summary ({page.locator('#run-detail').inner_text()})")  # fmt: skip
    assert page.locator("#run-summary [data-field=outcome] dd").inner_text() == "ok"
    assert page.locator("#run-summary [data-field=index] dd").inner_text() == "yes"
    # The run's figures over time: series of several points (a flat one has no height, so
    # Playwright never calls it visible: attached is what is drawn).
    page.wait_for_selector("#run-chart polyline", state="attached")
    series = page.locator("#run-chart polyline")
    points = [(series.nth(i).get_attribute("points") or "").split() for i in range(series.count())]
    assert max(map(len, points)) >= 2, points

    # a worker job of that crawl: its stats from its log, with a chart
    page.locator("#jobs button[data-action=stats]").first.dispatch_event("click")
    pages = page.locator("#job-summary [data-field=pages] dd")
    wait_for(lambda: pages.count() and int(pages.inner_text()) > 0, 30, what="a job's stats")
    assert page.locator("#job-summary [data-field=finish_reason] dd").inner_text() == "finished"

    page.locator("tr[data-crawl=halted] button[data-action=start]").dispatch_event("click")
    running = "#runs tr[data-run^='halted-'][data-state=running]"
    page.wait_for_selector(running, timeout=60_000)
    run_id = page.locator(running).get_attribute("data-run")

    def some_landed() -> bool:
        live = ops.get(f"runs/{run_id}")["live"] or {}
        return bool((live.get("urls") or {}).get("landed"))

    wait_for(some_landed, 120, what="the second crawl under way")
    page.locator(f"{running} button[data-action=stop]").dispatch_event("click")
    stopped = f"#runs tr[data-run='{run_id}'][data-state=stopped]"
    page.wait_for_selector(stopped, timeout=60_000)
    assert ops.get(f"runs/{run_id}")["summary"]["urls"]["pending"] > 0  # stopped midway
    page.locator(f"{stopped} button[data-action=resume]").dispatch_event("click")
    page.wait_for_selector(f"#runs tr[data-run='{run_id}'][data-state=finished]", timeout=240_000)
    summary = ops.get(f"runs/{run_id}")["summary"]
    assert summary["ok"] and summary["urls"]["landed"] == summary["urls_total"] == 300
    assert ops.get(f"runs/{run_id}")["launches"] == 2
    assert not elsewhere, elsewhere  # offline: every request went to the monitor

    viewer = browser.new_context(http_credentials={"username": "eve", "password": "eve-secret"})
    seen = viewer.new_page()
    seen.goto(url)
    seen.wait_for_selector("body[data-role=viewer] #control:not([hidden])")
    seen.wait_for_selector("tr[data-crawl=whole]")
    assert seen.locator("#runs tr[data-run]").count() == 2  # a viewer sees the runs
    for control in ("button[data-action=start]", "button[data-action=details] ~ button",
                    "#crawl-form", "#timer-form", "#rule-form", "#job-form"):  # fmt: skip
        assert not any(b.is_visible() for b in seen.locator(control).all()), control
    actions = [a["action"] for a in ops.get("audit") if a["who"] == "ops"]
    assert {"save_crawl", "start_crawl", "stop_run", "resume_run"} <= set(actions)
