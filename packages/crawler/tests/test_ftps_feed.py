"""A real Scrapy crawl exports its feed over `ftps://` (FTPSFeedStorage) to a real ftpsink that
requires TLS; the certificate is made at test time and trusted via FEED_STORAGE_FTPS_CA_FILE."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.core.passwords import hash_password
from scrapyfleet.ftpsink.tls import self_signed

BIN = Path(sys.executable).parent

SPIDER = """
import scrapy


class Tiny(scrapy.Spider):
    name = "tiny"
    batch = "b9"
    start_urls = ["data:,listing"]
    custom_settings = {settings!r}

    def parse(self, response):
        for i in range(100):
            yield {{"url": f"http://demo/{{i}}", "title": f"flat {{i}}", "price": float(i)}}
"""


@pytest.fixture
def tls_sink(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[tuple[int, Path, Path]]:
    """ftpsink with --require-tls and one hashed account; yields (port, root, CA file)."""
    files = self_signed(tmp_path)
    users = tmp_path / "users"
    users.write_text(f"worker:{hash_password('s3cret', n=1024)}\n")
    port, root = free_port(), tmp_path / "items"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYFLEET_FTPSINK_")}
    with (tmp_path / "ftpsink.log").open("wb") as log:
        process = subprocess.Popen(
            [BIN / "ftpsink", "--port", str(port), "--root", str(root), "--passive-ports", "0",
             "--users-file", str(users), "--no-anonymous", "--tls-cert", str(files.cert),
             "--tls-key", str(files.key), "--require-tls", "--log-format", "json"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return process.poll() is not None  # died: fail below, not by timeout
        return True

    try:
        wait_for(listening, timeout=30, what="ftpsink")
        assert process.poll() is None, (tmp_path / "ftpsink.log").read_text()
        yield port, root, files.cert
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_scrapy_feed_export_over_ftps_lands(tls_sink, tmp_path):
    port, root, ca_file = tls_sink
    settings = {
        "FEEDS": {
            f"ftps://worker:s3cret@127.0.0.1:{port}/%(batch)s_%(name)s_%(batch_id)d.jl": {
                "format": "jsonlines"
            }
        },
        "FEED_STORAGES": {"ftps": "scrapyfleet.crawler.ftps.FTPSFeedStorage"},
        "FEED_STORAGE_FTPS_CA_FILE": str(ca_file),
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
    }
    spider = tmp_path / "tiny.py"
    spider.write_text(SPIDER.format(settings=settings))

    run = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(spider)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Stored jsonlines feed (100 items) in: ftps://" in run.stderr, run.stderr[-3000:]
    assert "s3cret" not in (tmp_path / "ftpsink.log").read_text()
    (landed,) = root.glob("*.jl")
    assert landed.name.startswith("b9_tiny_")
    items = [json.loads(line) for line in landed.read_text().splitlines()]
    assert sorted(item["url"] for item in items) == sorted(f"http://demo/{i}" for i in range(100))
