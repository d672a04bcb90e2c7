"""The web console in a real headless Chromium (Debian's, driven by Playwright): three real
scrapyd nodes, a real monitor process, an analytics output rewritten atomically as the Spark job
does, and crawl-master's metrics from a stand-in registry (it serves none of its own yet).

Set SCRAPYFLEET_CONSOLE_SCREENSHOT=PATH to keep a screenshot of the page with content.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.core.files import write_json_atomic, write_text_atomic

CHROMIUM = Path("/usr/bin/chromium")  # conftest's `browser` launches it
INTERVAL = 0.5
TIMEOUT = 1.0
WORDS = 6
VOCABULARY = ["pool", "garden", "penthouse", "sea", "view", "garage", "terrace", "quiet",
              "studio", "basement", "shared", "busy", "road", "noisy"]  # fmt: skip
WaitFor = Callable[..., Any]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def shifts(batch: int, listings: int) -> dict[str, Any]:
    """A shifts.json as the Spark job writes it (words sorted by shift, descending)."""
    words = [
        {"word": w, "shift": round(0.6 - i * 0.09 + batch * 0.01, 4), "count": listings // (i + 2),
         "sum": 1000.0 * (i + 1)}
        for i, w in enumerate(VOCABULARY)
    ]  # fmt: skip
    return {"batch_id": batch, "updated_at": f"2025-06-01T12:00:{batch:02d}Z", "listings": listings,
            "bad_records": batch, "avg_price": 1234.5, "words": words}  # fmt: skip


def publish(folder: Path, batch: int, listings: int) -> dict[str, Any]:
    """Rewrite shifts.json and progress.json atomically; the new shifts document."""
    doc = shifts(batch, listings)
    progress = [
        {
            "batch_id": b,
            "updated_at": f"2025-06-01T12:00:{b:02d}Z",
            "listings": listings * b // batch,
        }
        for b in range(1, batch + 1)
    ]
    write_json_atomic(folder / "progress.json", progress)
    write_json_atomic(folder / "shifts.json", doc)
    return doc


def page_nodes(page: Any) -> dict[str, dict[str, str]]:
    """Every node card's fields as the page shows them."""
    return dict(
        page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("article.node")]
            .map((card) => [card.dataset.node, Object.fromEntries(
                [...card.querySelectorAll("[data-field]")]
                    .map((f) => [f.dataset.field, f.textContent])
                    .concat([["up", card.dataset.up]]))]))""")
    )


def page_words(page: Any, table: str) -> list[tuple[str, ...]]:
    rows = page.locator(f"#{table} tbody tr").all()
    return [
        tuple(r.locator(f".{c}").inner_text() for c in ("word", "shift", "count")) for r in rows
    ]


def expected_words(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (w["word"], f"{'+' if w['shift'] >= 0 else ''}{w['shift']:.3f}", str(w["count"]))
        for w in rows
    ]


def counts(node: Any) -> dict[str, str]:
    answer = node.get("listjobs.json?project=tiny")
    return {state: str(len(answer[state])) for state in ("pending", "running", "finished")}


def test_console_in_chromium(
    tmp_path: Path,
    scrapyd_node: Callable[..., Any],
    run_monitor: Callable[..., Any],
    crawl_master_stub: Callable[[], tuple[Any, str]],
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
    browser: Any,
) -> None:
    nodes = {f"scrapyd{i}": scrapyd_node(max_proc=2) for i in (1, 2, 3)}
    write_config(tmp_path, nodes, slots=2)
    one, two, three = nodes.values()
    for name in ("a", "b", "c"):
        one.schedule(release=str(releases / name))  # 2 running, 1 pending
    two.schedule(release=str(releases / "d"))
    three.schedule(release=str(releases / "e"))
    analytics = tmp_path / "analytics"
    analytics.mkdir()
    doc = publish(analytics, 1, 120)
    crawl, crawl_url = crawl_master_stub()
    crawl.progress(landed=120, pending=880, pages=160)
    items = tmp_path / "items"
    items.mkdir()
    (items / "b1_distr_1.jl").write_bytes(b"{}\n" * 400)
    monitor = run_monitor(
        "--targets", "scrapyd*", "--web", "127.0.0.1:0", "--interval", str(INTERVAL),
        "--timeout", str(TIMEOUT), "--analytics-output", str(analytics), "--items", str(items),
        "--crawl-metrics", crawl_url, "--words", str(WORDS), cwd=tmp_path,
    )  # fmt: skip
    url = wait_for(lambda: monitor.find(event="web_console"), 30, what="console URL")["url"]
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(url)
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page ever reloads

    def shown_equal_listjobs() -> bool:
        shown = page_nodes(page)
        return sorted(shown) == sorted(nodes) and all(
            {k: shown[n][k] for k in ("pending", "running", "finished")} == counts(node)
            for n, node in nodes.items()
        )

    wait_for(lambda: counts(one) == {"pending": "1", "running": "2", "finished": "0"}, 30)
    wait_for(shown_equal_listjobs, 30, what="three nodes whose counts equal listjobs.json")
    assert all(card["state"] == "UP" for card in page_nodes(page).values())
    wait_for(lambda: page.locator("#top-words tbody tr").count() == WORDS, 30, what="words")
    assert page_words(page, "top-words") == expected_words(doc["words"][:WORDS])
    assert page_words(page, "bottom-words") == expected_words(doc["words"][WORDS:][-WORDS:])
    assert page.locator("[data-field=listings] dd").inner_text() == "120"
    assert page.locator("#jobs a").count() >= 3  # running jobs link their logs

    # progress without a reload: a new micro-batch, a job released, the crawl moving on
    doc = publish(analytics, 2, 300)
    wait_for(lambda: page.locator("[data-field=listings] dd").inner_text() == "300", 30, what="300")
    assert page_words(page, "top-words") == expected_words(doc["words"][:WORDS])
    assert page_words(page, "bottom-words") == expected_words(doc["words"][WORDS:][-WORDS:])
    (releases / "a").touch()
    wait_for(lambda: page_nodes(page)["scrapyd1"]["finished"] == "1", 30, what="a job finished")
    wait_for(shown_equal_listjobs, 30, what="counts follow listjobs.json")
    crawl.progress(landed=420, pending=580, pages=520)
    wait_for(lambda: page.locator("[data-field=pages] dd").inner_text() == "520", 30, what="crawl")
    doc = publish(analytics, 3, 480)
    wait_for(lambda: page.locator("[data-field=listings] dd").inner_text() == "480", 30, what="480")
    wait_for(lambda: page.locator("#shifts-chart polyline").count() > 0, 30, what="shift chart")
    assert page.locator("#listings-chart polyline").count() == 1
    assert page.evaluate("() => window.sameDocument === true")

    log_href = page.locator("#jobs a").first.get_attribute("href")
    log = page.request.get(url + log_href)
    assert log.status == 200 and "Spider opened" in log.text()

    shot = os.environ.get("SCRAPYFLEET_CONSOLE_SCREENSHOT")
    page.screenshot(path=shot or str(tmp_path / "console.png"), full_page=True)

    # a node killed with -9 is down on the page within two polls
    three.kill()
    killed = time.monotonic()
    wait_for(
        lambda: page_nodes(page)["scrapyd3"]["state"] == "DOWN",
        2 * INTERVAL + TIMEOUT + 3,  # two polls, plus slack for a loaded machine
        what="scrapyd3 DOWN on the page",
    )
    took = time.monotonic() - killed
    card = page_nodes(page)["scrapyd3"]
    assert card["up"] == "false" and "connection refused" in card["reason"]
    assert page_nodes(page)["scrapyd1"]["state"] == "UP"
    assert page.evaluate("() => window.sameDocument === true")
    print(f"scrapyd3 shown down {took:.2f}s after kill -9 (poll interval {INTERVAL}s)")


def poisoned(batch: int, listings: int) -> str:
    """shifts.json as a Spark job with a poisoned table writes it (`json.dumps` default: NaN and
    Infinity, not JSON)."""
    doc = shifts(batch, listings)
    doc["avg_price"] = float("inf")
    doc["words"][0]["shift"] = float("nan")
    doc["words"][-1]["shift"] = float("-inf")
    return json.dumps(doc)


def test_console_keeps_updating_while_shifts_are_not_finite(
    tmp_path: Path,
    scrapyd_node: Callable[..., Any],
    run_monitor: Callable[..., Any],
    releases: Path,
    wait_for: WaitFor,
    write_config: Callable[..., Path],
    browser: Any,
) -> None:
    node = scrapyd_node()
    write_config(tmp_path, {"scrapyd1": node})
    analytics = tmp_path / "analytics"
    analytics.mkdir()
    write_text_atomic(analytics / "shifts.json", poisoned(1, 120))
    monitor = run_monitor(
        "--targets", "scrapyd1", "--web", "127.0.0.1:0", "--interval", str(INTERVAL),
        "--timeout", str(TIMEOUT), "--analytics-output", str(analytics), "--words", "3",
        cwd=tmp_path,
    )  # fmt: skip
    url = wait_for(lambda: monitor.find(event="web_console"), 30, what="console URL")["url"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    wait_for(lambda: page_nodes(page).get("scrapyd1", {}).get("state") == "UP", 30, what="UP")
    note = page.locator("#analysis-state")
    wait_for(lambda: "not finite: shown as n/a" in note.inner_text(), 30, what="the note")
    assert note.inner_text().startswith("3 numbers")
    assert page.locator("#top-words tbody tr .shift").first.inner_text() == "n/a"
    assert page.locator("#bottom-words tbody tr .shift").last.inner_text() == "n/a"
    assert page.locator("[data-field=avg_price] dd").inner_text() == "–"
    snapshot = page.request.get(url + "snapshot.json").text()
    assert page.evaluate("(text) => typeof JSON.parse(text).analysis", snapshot) == "object"

    # node status goes on updating while every micro-batch stays poisoned
    node.schedule(release=str(releases / "a"))
    wait_for(lambda: page_nodes(page)["scrapyd1"]["running"] == "1", 30, what="a job running")
    write_text_atomic(analytics / "shifts.json", poisoned(2, 300))
    wait_for(lambda: page.locator("[data-field=listings] dd").inner_text() == "300", 30)
    (releases / "a").touch()
    wait_for(lambda: page_nodes(page)["scrapyd1"]["finished"] == "1", 30, what="a job finished")
    assert page_nodes(page)["scrapyd1"]["state"] == "UP"
    assert errors == []
