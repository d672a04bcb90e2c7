"""Real clients upload to a real sink: ftplib, curl, a Scrapy feed export, 20 at once."""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scrapy.utils.ftp import ftp_store_file

from scrapyfleet.ftpsink.config import SinkConfig


def test_ftplib_stor_lands_whole_file_and_logs_it(sink, events):
    payload = os.urandom(300_000)
    with sink.ftp() as ftp:
        reply = ftp.storbinary("STOR 7_easy_2024.jl", io.BytesIO(payload))

    assert reply.startswith("226")
    assert sink.landed() == {"7_easy_2024.jl": payload}
    assert sink.staged() == []
    (landed,) = events.named("landed")
    assert landed["name"] == "7_easy_2024.jl"
    assert landed["bytes"] == len(payload)
    assert landed["seconds"] >= 0
    assert landed["client"].startswith("127.0.0.1:")


def test_curl_upload_lands(sink, tmp_path):
    source = tmp_path / "feed.jl"
    source.write_bytes(os.urandom(100_000))
    url = f"ftp://127.0.0.1:{sink.port}/3_easy_t.jl"

    subprocess.run(["curl", "-sS", "-T", str(source), url], check=True, timeout=30)

    assert sink.landed() == {"3_easy_t.jl": source.read_bytes()}


SPIDER = """
import scrapy


class Tiny(scrapy.Spider):
    name = "tiny"
    batch = "b7"
    start_urls = ["data:,listing"]
    custom_settings = {{
        "FEEDS": {{"{feed}": {{"format": "jsonlines"}}}},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "FEED_STORAGE_FTP_ACTIVE": False,
        "LOG_LEVEL": "INFO",
    }}

    def parse(self, response):
        for i in range({count}):
            yield {{"url": f"http://demo/{{i}}", "title": f"flat {{i}}", "price": float(i)}}
"""


def test_scrapy_ftp_feed_lands_with_every_item(sink_factory, tmp_path):
    """Scrapy's FTPFeedStorage, against a sink that signs receipts (a longer 226)."""
    sink = sink_factory(users=(("worker", "s3cret"),), receipt_key=b"k" * 32)
    # Not Scrapy's %(time)s: its `+00-00` is no landing name (core.contracts.safe_landing_name).
    feed = f"ftp://worker:s3cret@127.0.0.1:{sink.port}/%(batch)s_%(name)s_%(batch_id)d.jl"
    spider = tmp_path / "tiny.py"
    spider.write_text(SPIDER.format(feed=feed, count=250))

    run = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(spider)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    ((name, body),) = sink.landed().items()
    assert name == "b7_tiny_1.jl", name
    items = [json.loads(line) for line in body.decode().splitlines()]
    assert sorted(item["url"] for item in items) == sorted(f"http://demo/{i}" for i in range(250))


def test_twenty_concurrent_scrapy_uploads_with_every_default_land_identical(sink_factory):
    """Scrapy's own FTP store code, 20 threads at once, default passive ports and caps."""
    sink = sink_factory(passive_ports=SinkConfig().passive_ports)
    payloads = {f"/{i}_easy_t.jl": os.urandom(50_000 + 7_919 * i) for i in range(20)}

    def upload(path: str) -> None:
        ftp_store_file(
            path=path,
            file=io.BytesIO(payloads[path]),
            host="127.0.0.1",
            port=sink.port,
            username="",
            password="",
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(upload, payloads))

    def digests(files: dict[str, bytes]) -> dict[str, str]:
        return {name.lstrip("/"): hashlib.sha256(body).hexdigest() for name, body in files.items()}

    assert digests(sink.landed()) == digests(payloads)
    assert sink.staged() == []


def test_stor_to_existing_name_is_refused_and_original_kept(sink, events):
    with sink.ftp() as ftp:
        ftp.storbinary("STOR a.jl", io.BytesIO(b"first\n"))
        with pytest.raises(ftplib.error_perm, match=r"^553"):
            ftp.storbinary("STOR a.jl", io.BytesIO(b"second\n"))

    assert sink.landed() == {"a.jl": b"first\n"}
    assert events.named("refused")[-1]["command"] == "STOR"


def test_racing_stors_to_one_new_name_land_only_the_first(sink, events):
    """Both pass the existence check; the link at landing time refuses the second."""
    with sink.ftp() as first, sink.ftp() as second:
        data_1 = first.transfercmd("STOR race.jl")
        data_2 = second.transfercmd("STOR race.jl")
        data_1.sendall(b"one\n")
        data_2.sendall(b"two\n")
        data_1.close()
        assert first.voidresp().startswith("226")
        data_2.close()
        with pytest.raises(ftplib.error_perm, match=r"^553"):
            second.voidresp()

    assert sink.landed() == {"race.jl": b"one\n"}
    assert sink.staged() == []
    assert events.named("aborted")[-1]["reason"] == "exists"


def test_passive_port_range_is_used(sink_factory, free_port):
    port = free_port()
    sink = sink_factory(passive_ports=range(port, port + 1))
    with sink.ftp() as ftp:
        assert ftp.makepasv()[1] == port
        ftp.storbinary("STOR p.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"p.jl": b"{}\n"}


def test_landed_file_is_readable_by_others(sink):
    with sink.ftp() as ftp:
        ftp.storbinary("STOR r.jl", io.BytesIO(b"{}\n"))
    assert Path(sink.root / "r.jl").stat().st_mode & 0o044 == 0o044
