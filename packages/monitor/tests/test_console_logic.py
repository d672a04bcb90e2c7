"""The console's pure logic: timer due times (cronsim), definitions and their command lines,
loopback Host checks, users-file lines, rule measures and Scrapy log parsing; and the users
file checked by the command line before anything starts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scrapyfleet.monitor.definitions import DefinitionError, parse
from scrapyfleet.monitor.jobstats import parse_log
from scrapyfleet.monitor.roles import loopback_host, parse_user
from scrapyfleet.monitor.rules import measure
from scrapyfleet.monitor.runstats import RunStats
from scrapyfleet.monitor.sources import SourceOptions, Sources
from scrapyfleet.monitor.store import Store
from scrapyfleet.monitor.timers import next_due


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def timer(**fields: Any) -> dict[str, Any]:
    return {"kind": "cron", "spec": "* * * * *", "start_at": None, "end_at": None,
            "anchor": 0.0, **fields}  # fmt: skip


def test_due_times_follow_cron_interval_and_the_window() -> None:
    assert next_due(timer(), at("2026-12-01 10:00:00")) == at("2026-12-01 10:01:00")
    assert next_due(timer(), at("2026-12-01 10:00:30.5")) == at("2026-12-01 10:01:00")
    assert next_due(timer(spec="*/15 * * * * *"), at("2026-12-01 10:00:15")) == at(
        "2026-12-01 10:00:30"
    )
    assert next_due(timer(spec="0 2 * * *"), at("2026-12-01 10:00:00")) == at("2026-12-02 02:00:00")
    start = at("2026-12-05 00:00:00")
    assert next_due(timer(start_at=start), at("2026-12-01 10:00:00")) == start
    assert next_due(timer(end_at=at("2026-12-01 10:00:30")), at("2026-12-01 10:00:00")) is None
    every = timer(kind="interval", spec="7", anchor=100.0)
    assert [next_due(every, t) for t in (100.0, 106.9, 107.0, 1000.0)] == [107, 107, 114, 1003]


async def test_a_run_that_ends_has_its_summary_as_the_last_sample(tmp_path: Path) -> None:
    clock = iter([10.0, 20.0]).__next__
    async with aiohttp.ClientSession() as session:
        stats = RunStats(Store(tmp_path), Sources(SourceOptions(), session, 1.0), clock)
        stats.ended("r1", {"pages": 330, "items": 300, "urls": {"landed": 300, "failed": 0}})
        stats.ended("r2", None)  # no summary.json: nothing to add
        stats.ended("r1", {"pages": 331, "items": 300, "urls": {"landed": 300}})
    assert stats.series("r2") == []
    assert [(p["t"], p["pages"], p["landed"], p["failed"]) for p in stats.series("r1")] == [
        (10.0, 330, 300, 0), (20.0, 331, 300, None),
    ]  # fmt: skip


def test_definitions_are_checked_and_written_as_options(tmp_path: Path) -> None:
    doc = {"name": "n1", "project_dir": str(tmp_path), "targets": ["scrapyd*"],
           "options": {"site": "http://x", "index-pages": 3, "deploy": True, "keep-workers": False,
                       "setting": ["A=1", "B=2"]}}  # fmt: skip
    assert parse(doc).arguments() == [
        "--spider", "distr", "--targets", "scrapyd*", "--deploy", "--index-pages=3",
        "--setting=A=1", "--setting=B=2", "--site=http://x",
    ]  # fmt: skip
    for bad, why in (
        ({"name": "../x"}, "name"),
        ({"project_dir": "relative"}, "project_dir"),
        ({"targets": ["--deploy"]}, "targets"),
        ({"options": {"run-dir": "/tmp"}}, "run-dir"),
        ({"options": {"site": {"nested": 1}}}, "site"),
        ({"options": {"site": "a\nb"}}, "site"),
    ):
        with pytest.raises(DefinitionError, match=why):
            parse({**doc, **bad})


def test_loopback_hosts_and_users_file_lines() -> None:
    assert all(map(loopback_host, ["127.0.0.1:80", "[::1]:8080", "localhost", "127.1.2.3"]))
    assert not any(map(loopback_host, ["rebound.example:80", "10.0.0.1:80", "[::2]:1", ""]))
    assert parse_user("ops:operator:pass:with:colons") == ("ops", "operator", "pass:with:colons")
    for bad in ("ops:admin:x", "ops:operator:", "ops:viewer:scrypt$1$2$3$x$y", "nobody"):
        with pytest.raises(ValueError):
            parse_user(bad)


def test_rule_measures() -> None:
    run = {"started": 0.0}
    urls = {"landed": 60, "failed": 20, "gone": 10, "no_item": 10, "pending": 900}
    assert measure("failed_urls", run, {"urls": urls}, 1.0) == 20
    assert measure("error_rate", run, {"urls": urls}, 1.0) == 0.2
    assert measure("error_rate", run, {"urls": {}}, 1.0) is None
    assert measure("pages_floor", run, {"pages_per_second": 3.0}, 10.0) is None  # warming up
    assert measure("pages_floor", run, {"pages_per_second": 3.0}, 31.0) == 3.0


LOG = """\
2026-12-01 20:11:57 [scrapy.extensions.logstats] INFO: Crawled 0 pages (at 0 pages/min), scraped 0 items (at 0 items/min)
2026-12-01 20:12:57 [scrapy.extensions.logstats] INFO: Crawled 41 pages (at 41 pages/min), scraped 40 items (at 40 items/min)
2026-12-01 20:13:01 [scrapy.statscollectors] INFO: Dumping Scrapy stats:
{'downloader/response_status_count/200': 40,
 'downloader/response_status_count/500': 3,
 'finish_reason': 'finished',
 'finish_time': datetime.datetime(2026, 12, 1, 20, 13, 1, 5, tzinfo=datetime.timezone.utc),
 'item_scraped_count': 40,
 'log_count/ERROR': 1,
 'response_received_count': 43,
 'retry/count': 2}
2026-12-01 20:13:01 [scrapy.core.engine] INFO: Spider closed (finished)
"""  # noqa: E501


def test_a_scrapy_log_gives_its_closing_stats_and_series() -> None:
    parsed = parse_log(LOG)
    assert parsed["summary"] == {
        "pages": 43, "items": 40, "errors": 1, "retries": 2,
        "status_codes": {"200": 40, "500": 3}, "finish_reason": "finished",
        "elapsed_seconds": None,
    }  # fmt: skip
    assert [(p["pages"], p["items"]) for p in parsed["series"]] == [(0, 0), (41, 40)]
    assert parsed["series"][1]["t"] - parsed["series"][0]["t"] == 60
    running = parse_log(LOG.split("Dumping")[0])
    assert running["summary"] is None and len(running["series"]) == 2
    assert parse_log("Dumping Scrapy stats:\n{'a': __import__('os')}")["summary"] is None


def test_users_file_is_checked_before_the_console_starts(tmp_path: Path, free_port: Any) -> None:
    import subprocess
    import sys

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scrapyfleet.monitor.cli", "--targets",
             f"http://127.0.0.1:{free_port()}", "--once", *args],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip

    users = tmp_path / "users"
    users.write_text("# accounts\nops:operator:secret\neve:admin:secret\n")
    wide = ["--web", f"0.0.0.0:{free_port()}"]
    bad = monitor(*wide, "--users-file", str(users))
    assert bad.returncode == 2 and f"{users}:3: want NAME:ROLE:SECRET" in bad.stderr
    both = monitor("--users-file", str(users), "--web-user", "ops")
    assert both.returncode == 2 and "give one of them" in both.stderr
    open_wide = monitor(*wide)
    assert open_wide.returncode == 2 and "--users-file" in open_wide.stderr
    assert "Traceback" not in bad.stderr + both.stderr + open_wide.stderr
