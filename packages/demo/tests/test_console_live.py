"""The web console during a real crawl, in Debian's headless Chromium (Playwright): `uv run demo`
(site, ftpsink, three scrapyd nodes, Spark, crawl-master with its metrics, the monitor's
console), the page checked against the nodes' `listjobs.json` and Spark's `shifts.json`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.core.targets import resolve_targets

DEMO = str(Path(sys.executable).parent / "demo")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
POLL = 1.0  # the demo's monitor interval

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A demo that keeps every component running after its table; stopped like Ctrl-C."""
    run_dir = tmp_path / "run"
    with (tmp_path / "demo.out").open("wb") as out:
        process = subprocess.Popen(
            [DEMO, "--total", "6000", "--latency", "0.1", "--batch-size", "500", "--run-dir",
             str(run_dir), "--timeout", "240", "--keep-running"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        yield process, run_dir
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def console_url(run_dir: Path) -> str | None:
    log = run_dir / "monitor.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        if '"web_console"' in line:
            return str(json.loads(line)["url"])
    return None


def nodes_on_page(page: Any) -> dict[str, dict[str, str]]:
    return dict(
        page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("article.node")]
            .map((card) => [card.dataset.node, Object.fromEntries(
                [...card.querySelectorAll("[data-field]")]
                    .map((f) => [f.dataset.field, f.textContent]))]))""")
    )


def listjobs(url: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{url}/listjobs.json?project={PROJECT}", timeout=5) as answer:
        jobs = json.load(answer)
    return {state: str(len(jobs[state])) for state in ("pending", "running", "finished")}


def figure(page: Any, field: str) -> int:
    shown = page.locator(f"[data-field={field}] dd")
    if shown.count() == 0:  # not drawn yet: the caller's deadline decides, not Playwright's 30 s
        return -1
    text = shown.inner_text()
    return int(text.replace(",", "")) if text.replace(",", "").isdigit() else -1


def test_console_follows_a_real_crawl(
    demo: tuple[subprocess.Popen[bytes], Path], wait_for: Callable[..., Any]
) -> None:
    from playwright.sync_api import sync_playwright

    process, run_dir = demo
    url = wait_for(lambda: console_url(run_dir) or process.poll() is not None, 150,
                   what="the console's URL")  # fmt: skip
    assert isinstance(url, str), (run_dir.parent / "demo.out").read_text()[-3000:]
    targets = {
        t.name: t.url for t in resolve_targets(["scrapyd*"], run_dir / "cluster" / "scrapy.cfg")
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.evaluate("() => { window.sameDocument = true; }")  # gone if the page ever reloads

        # crawl progress from crawl-master's metrics grows while the crawl runs
        first = wait_for(lambda: (n := figure(page, "pages")) > 0 and n, 150, what="pages > 0")
        wait_for(lambda: figure(page, "pages") > first, 60, what="the page count to grow")

        def nodes_match() -> bool:
            shown = nodes_on_page(page)
            return sorted(shown) == sorted(targets) and all(
                {k: shown[n][k] for k in ("pending", "running", "finished")} == listjobs(u)
                for n, u in targets.items()
            )

        wait_for(nodes_match, 60, what="three nodes whose counts equal listjobs.json")

        def words_match() -> bool:
            path = run_dir / "analytics" / "shifts.json"  # the crawl starts before Spark is up
            if not path.exists():
                return False
            shifts = json.loads(path.read_text())
            top = page.locator("#top-words tbody tr .word").all_inner_texts()
            ranked = [w["word"] for w in shifts["words"] if w["count"] >= 5]
            listed = page.locator("[data-field=listings] dd").inner_text().replace(",", "")
            return bool(top) and top == ranked[: len(top)] and listed == str(shifts["listings"])

        wait_for(words_match, 120, what="the words table to equal shifts.json")

        victim = json.loads((run_dir / "pids.json").read_text())["extra"]["scrapyd2"]
        os.killpg(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: nodes_on_page(page)["scrapyd2"]["state"] == "DOWN", 2 * POLL + 4,
                 what="scrapyd2 DOWN within two polls")  # fmt: skip
        print(f"scrapyd2 shown down {time.monotonic() - killed:.2f}s after kill -9")
        assert page.evaluate("() => window.sameDocument === true")
        browser.close()
