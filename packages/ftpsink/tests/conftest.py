"""Fixtures: a real ftpsink on a free loopback port (in a thread of its own) and its log events."""

from __future__ import annotations

import asyncio
import ftplib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import structlog

from scrapyfleet.ftpsink.config import SinkConfig, TlsFiles
from scrapyfleet.ftpsink.server import serve
from scrapyfleet.ftpsink.staging import STAGING_DIR
from scrapyfleet.ftpsink.tls import self_signed


class RunningSink:
    """A sink serving from its own event loop in a background thread until `stop()`."""

    def __init__(self, config: SinkConfig, wait_for: Callable[..., Any]) -> None:
        self.config = config
        self.root = config.root.resolve()
        self.port = config.port
        self._stop = asyncio.Event()
        self._runner = asyncio.Runner()
        self._thread = threading.Thread(target=self._run, name="ftpsink", daemon=True)
        self._thread.start()
        wait_for(self._accepting, timeout=10, what="ftpsink to listen")

    def _run(self) -> None:
        with self._runner:
            self._runner.run(serve(self.config, self._stop))

    def _accepting(self) -> bool:
        if not self._thread.is_alive():
            pytest.fail("ftpsink thread died while starting")
        try:
            socket.create_connection((self.config.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self._thread.is_alive():
            self._runner.get_loop().call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "ftpsink did not stop"

    def ftp(self, user: str = "anonymous", password: str = "") -> ftplib.FTP:
        client = ftplib.FTP(timeout=10)
        client.connect(self.config.host, self.port)
        client.login(user, password)
        return client

    def ftps(self, user: str = "anonymous", password: str = "") -> ftplib.FTP_TLS:
        """A client on explicit FTPS (AUTH TLS, PROT P) that trusts the sink's certificate."""
        assert self.config.tls is not None, "sink started without TLS"
        context = ssl.create_default_context(cafile=self.config.tls.cert)
        client = ftplib.FTP_TLS(context=context, timeout=10)
        client.connect(self.config.host, self.port)
        client.login(user, password)
        client.prot_p()
        return client

    def landed(self) -> dict[str, bytes]:
        """Every visible file under the root, by path relative to it."""
        return {
            str(path.relative_to(self.root)): path.read_bytes()
            for path in self.root.rglob("*")
            if path.is_file() and STAGING_DIR not in path.relative_to(self.root).parts
        }

    def staged(self) -> list[Path]:
        return list((self.root / STAGING_DIR).iterdir())


@pytest.fixture
def sink_factory(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Callable[..., RunningSink]]:
    """Start sinks rooted in tmp_path/items with SinkConfig overrides; all stopped at teardown."""
    started: list[RunningSink] = []

    def start(**overrides: Any) -> RunningSink:
        base = SinkConfig(root=tmp_path / "items", port=free_port(), passive_ports=None)
        sink = RunningSink(replace(base, **overrides), wait_for)
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, made at test time."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sink(sink_factory: Callable[..., RunningSink]) -> RunningSink:
    return sink_factory()


class EventLog:
    """structlog events captured during a test, from any thread (a live view)."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in list(self.entries) if event["event"] == name]


@pytest.fixture
def events() -> Iterator[EventLog]:
    with structlog.testing.capture_logs() as captured:
        yield EventLog(captured)
