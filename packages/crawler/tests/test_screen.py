"""What a person reads on crawl-master's terminal (screen.py), while master.log keeps every
event; pure: structlog configured in this process, a rich console writing to a buffer."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

import pytest
import structlog
from rich.console import Console
from rich.file_proxy import FileProxy

from scrapyfleet.core.logs import configure_logging, copy_to_file
from scrapyfleet.crawler.master.screen import for_a_person, summary_table

ZERO = dict.fromkeys(("scheduler", "downloader", "scraper", "pipeline", "done", "memory"), 0)


@pytest.fixture
def restored() -> Iterator[None]:
    handlers = logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def _run(tmp_path: Path, level: str) -> tuple[str, list[dict[str, Any]]]:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    stream = cast(TextIO, FileProxy(console, out))
    configure_logging("console", level, stream, screen=[for_a_person(level)])
    copy_to_file(tmp_path / "master.log")
    log = structlog.get_logger("test")
    log.info("run_started", run_dir=str(tmp_path))
    log.info("batch_created", batch=1, urls=30)
    log.info("core_metrics", spider="distr", **ZERO)
    log.info("core_metrics", spider="distr", **{**ZERO, "downloader": 4})
    log.info("batch_done", batch=1, node="scrapyd1", items=30)
    log.warning("node_unreachable", node="scrapyd2")
    log.info("run_summary", ok=True, batches=1)
    logging.getLogger("somelib").info("somelib 2.19.0 started")
    logging.getLogger("somelib.engine").warning("an engine warning")
    lines = (tmp_path / "master.log").read_text().splitlines()
    return out.getvalue(), [json.loads(line) for line in lines]


def test_the_screen_shows_what_matters_and_master_log_keeps_everything(
    tmp_path: Path, restored: None
) -> None:
    shown, kept = _run(tmp_path, "INFO")
    assert [e["event"] for e in kept] == [
        "run_started", "batch_created", "core_metrics", "core_metrics", "batch_done",
        "node_unreachable", "run_summary", "somelib 2.19.0 started", "an engine warning",
    ]  # fmt: skip
    for event in ("run_started", "batch_done", "node_unreachable"):
        assert event in shown
    assert "batch_created" not in shown and "run_summary" not in shown
    assert "somelib 2.19.0 started" not in shown and "an engine warning" in shown, (
        "a library's records too"
    )
    metrics = [line for line in shown.splitlines() if "core_metrics" in line]
    assert len(metrics) == 1 and "downloader" in metrics[0], "only the one with work in flight"


def test_at_debug_the_screen_shows_every_event(tmp_path: Path, restored: None) -> None:
    shown, kept = _run(tmp_path, "DEBUG")
    for event in ("batch_created", "run_summary", "somelib 2.19.0 started"):
        assert event in shown
    assert sum("core_metrics" in line for line in shown.splitlines()) == 2
    assert len(kept) == 9


def test_the_summary_is_a_short_table() -> None:
    summary = {
        "urls": {"landed": 1200, "gone": 3, "no_item": 1, "failed": 2, "pending": 0},
        "urls_retried": 5, "batches": 4, "batches_done": 4, "items": 1200, "pages": 1260,
        "pages_per_second": 84.0, "wall_seconds": 15.02,
        "nodes": {"scrapyd1": {"batches": 3, "items": 900, "pages": 940},
                  "scrapyd2": {"batches": 1, "items": 300, "pages": 320}},
    }  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=80).print(summary_table(summary))
    text = out.getvalue()
    assert "1,200" in text and "4 of 4" in text and "84.0 pages/s" in text and "15.0 s" in text
    assert "node scrapyd1" in text and "3 batches, 900 items" in text
    assert len(text.splitlines()) <= 20 and max(map(len, text.splitlines())) <= 80
