"""The console's readers and pieces that need no scrapyd: Prometheus text from a real
prometheus_client registry, the landing-directory scan, the analytics output, credentials."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from scrapyfleet.core.contracts import ALERT_EVENTS
from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.procs import free_port
from scrapyfleet.monitor.outputs import read_analysis, scan_landed
from scrapyfleet.monitor.peermetrics import crawl_from, parse_samples, uploads_from
from scrapyfleet.monitor.readings import Reading, SourceError
from scrapyfleet.monitor.sources import SourceOptions, Sources
from scrapyfleet.monitor.watch import SitesDown


def crawl_registry(outcome: str | None = None, sites_down: int = 0) -> CollectorRegistry:
    """What crawl-master is expected to serve (peermetrics.py's table), from a real registry."""
    r = CollectorRegistry()
    batches = Gauge("scrapyfleet_crawl_batches", "b", ["state"], registry=r)
    for state, n in {"queued": 3, "running": 2, "done": 5, "failed": 1}.items():
        batches.labels(state).set(n)
    urls = Gauge("scrapyfleet_crawl_urls", "u", ["outcome"], registry=r)
    for name, n in {"landed": 480, "gone": 5, "no_item": 3, "failed": 2, "pending": 510}.items():
        urls.labels(name).set(n)
    Counter("scrapyfleet_crawl_pages", "p", registry=r).inc(500)
    Counter("scrapyfleet_crawl_items", "i", registry=r).inc(480)
    Counter("scrapyfleet_crawl_attempts", "a", registry=r).inc(12)
    Counter("scrapyfleet_crawl_retries", "r", registry=r).inc(2)
    nodes = Gauge("scrapyfleet_crawl_nodes", "n", ["state"], registry=r)
    nodes.labels("usable").set(3)
    nodes.labels("set_aside").set(0)
    Gauge("scrapyfleet_crawl_started_timestamp_seconds", "s", registry=r).set(1_700_000_000)
    finished = Gauge("scrapyfleet_crawl_finished", "f", ["outcome"], registry=r)
    if outcome:
        finished.labels(outcome).set(1)
    Gauge("scrapyfleet_crawl_sites_down", "d", registry=r).set(sites_down)
    return r


def test_crawl_figures_from_prometheus_text() -> None:
    crawl = crawl_from(parse_samples(generate_latest(crawl_registry()).decode()))
    assert crawl.batches == {"queued": 3, "running": 2, "done": 5, "failed": 1}
    assert crawl.urls["landed"] == 480 and crawl.urls["pending"] == 510
    assert (crawl.pages, crawl.items, crawl.attempts, crawl.retries) == (500, 480, 12, 2)
    assert crawl.nodes == {"usable": 3, "set_aside": 0}
    assert crawl.started == 1_700_000_000
    assert crawl.outcome is None
    ended = crawl_from(parse_samples(generate_latest(crawl_registry("failed")).decode()))
    assert ended.outcome == "failed"


def test_ftpsink_figures_and_garbage() -> None:
    r = CollectorRegistry()
    uploads = Counter("scrapyfleet_ftpsink_uploads", "u", ["outcome"], registry=r)
    uploads.labels("landed").inc(7)
    uploads.labels("refused").inc(1)
    Counter("scrapyfleet_ftpsink_bytes", "b", registry=r).inc(4096)
    sink = uploads_from(parse_samples(generate_latest(r).decode()))
    assert sink.uploads == {"landed": 7, "refused": 1} and sink.bytes == 4096
    with pytest.raises(SourceError, match="not Prometheus text"):
        parse_samples("<html>\nnot { metrics\n")


def test_scan_counts_only_landed_jl_files(tmp_path: Path) -> None:
    (tmp_path / "b1_distr_1.jl").write_bytes(b"x" * 10)
    (tmp_path / "b2_distr_2.jl").write_bytes(b"y" * 5)
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / "b3.jl").write_bytes(b"z" * 100)
    (tmp_path / "_hidden.jl").write_bytes(b"z")
    (tmp_path / "notes.txt").write_bytes(b"z")
    landed = scan_landed(tmp_path)
    assert (landed.files, landed.bytes) == (2, 15)
    with pytest.raises(SourceError):
        scan_landed(tmp_path / "missing")


def test_analysis_reads_both_files_and_names_problems(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no shifts\.json yet"):
        read_analysis(tmp_path)
    (tmp_path / "shifts.json").write_text("{not json")
    with pytest.raises(SourceError, match="not JSON"):
        read_analysis(tmp_path)
    (tmp_path / "shifts.json").write_text(json.dumps({"words": "nope"}))
    with pytest.raises(SourceError, match="no list of words"):
        read_analysis(tmp_path)
    words = [{"word": "pool", "shift": 0.5, "count": 3, "sum": 1.0}]
    doc = {"batch_id": 1, "updated_at": "2025-01-01T00:00:00Z", "listings": 9, "bad_records": 0,
           "avg_price": 10.0, "words": words}  # fmt: skip
    (tmp_path / "shifts.json").write_text(json.dumps(doc))
    assert read_analysis(tmp_path).progress == []  # progress.json not there yet
    progress = [{"batch_id": 1, "updated_at": "2025-01-01T00:00:00Z", "listings": 9}]
    (tmp_path / "progress.json").write_text(json.dumps(progress))
    analysis = read_analysis(tmp_path)
    assert analysis.shifts == doc and analysis.progress == progress


def test_hostile_analysis_output_is_refused_or_counted(tmp_path: Path) -> None:
    shifts = tmp_path / "shifts.json"
    with shifts.open("wb") as f:
        f.truncate(200 * 2**20)  # 200 MB (sparse): refused before it is read
    with pytest.raises(SourceError, match=r"shifts\.json is over 8 MiB"):
        read_analysis(tmp_path)
    shifts.write_text('{"words": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SourceError, match=r"shifts\.json: JSON nested deeper than 32 levels"):
        read_analysis(tmp_path)
    shifts.write_text(  # what `json.dumps` writes by default from a poisoned table
        '{"batch_id": 3, "listings": 9, "avg_price": Infinity, "bad_records": 0, "words": '
        '[{"word": "pool", "shift": NaN, "count": 3, "sum": Infinity}]}'
    )
    analysis = read_analysis(tmp_path)
    assert analysis.non_finite == 3
    assert analysis.shifts["avg_price"] is None and analysis.shifts["words"][0]["shift"] is None


async def test_unconfigured_and_silent_sources_say_so() -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    async with aiohttp.ClientSession() as session:
        readings = await Sources(SourceOptions(crawl_metrics=dead), session, 1.0).read()
    assert readings.crawl.state == "failed"
    assert readings.crawl.problem == "not answering: cannot connect"
    assert (readings.ftpsink.state, readings.items.state, readings.analysis.state) == ("off",) * 3


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (basic("ops", "pa:ss wörd"), True),
        (basic("ops", "pa:ss"), False),
        (basic("op", "pa:ss wörd"), False),
        ("Bearer " + basic("ops", "pa:ss wörd").split()[1], False),
        ("Basic !!!", False),
        ("", False),
        (None, False),
    ],
)
def test_credentials(header: str | None, accepted: bool) -> None:
    assert Credentials("ops", "pa:ss wörd").accept(header) is accepted


def test_a_site_held_fleet_wide_is_an_alert_and_so_is_its_return() -> None:
    watch = SitesDown("http://127.0.0.1:9410/metrics")
    names = []
    for down in (0, 1, 1, 2, 0, 0):
        crawl = crawl_from(parse_samples(generate_latest(crawl_registry(sites_down=down)).decode()))
        names.append([e.name for e in watch.events(Reading(crawl))])
    assert names == [[], ["site_down"], [], ["site_down"], ["site_up"], []]
    assert {"site_down", "site_up"} <= ALERT_EVENTS
