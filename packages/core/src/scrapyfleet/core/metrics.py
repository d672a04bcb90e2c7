"""Prometheus text metrics from any scrapyfleet process: `--metrics HOST:PORT` (extra `[metrics]`).

Each process defines its own metrics in its own `CollectorRegistry` and serves it with
`start_exporter`. The exporter is prometheus_client's WSGI server in a daemon thread: it needs no
event loop, so the same helper serves the asyncio monitor, crawl-master under Twisted, ftpsink
under aioftp and the Spark driver alike, and a scrape still answers while a loop is busy.
Collecting is thread-safe in prometheus_client. Loopback unless told otherwise; the exporter has no
authentication, so bind it only where its readers are.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from scrapyfleet.core.procs import is_loopback

DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Address:
    """A TCP listen address; port 0 means any free port."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_address(text: str, default_host: str = DEFAULT_HOST) -> Address:
    """`HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (host `default_host`); ValueError if not."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"put an IPv6 address in brackets: {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"not HOST:PORT: {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be within 0..65535: {text!r}")
    return Address(host or default_host, port)


def address(text: str) -> Address:
    """argparse type for a `HOST:PORT` option."""
    try:
        return parse_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


@dataclass(slots=True)
class Exporter:
    """A running exporter; `url` names the bound port (also when asked for port 0)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{Address(str(host), int(port))}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_exporter(where: Address, registry: CollectorRegistry) -> Exporter:
    """Serve `registry` at `http://where/metrics` (any path answers) from a daemon thread.

    OSError if the address cannot be bound.
    """
    server, thread = start_http_server(where.port, where.host, registry)
    return Exporter(server, thread)
