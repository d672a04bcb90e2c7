"""The Prometheus exporter helper: listen addresses and a real exporter on a free port."""

from __future__ import annotations

import argparse
import socket
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.parser import text_string_to_metric_families

from scrapyfleet.core.metrics import Address, address, parse_address, start_exporter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9100", Address("127.0.0.1", 9100)),
        ("0.0.0.0:80", Address("0.0.0.0", 80)),
        (":9100", Address("127.0.0.1", 9100)),
        ("9100", Address("127.0.0.1", 9100)),
        ("[::1]:0", Address("::1", 0)),
        ("localhost:8000", Address("localhost", 8000)),
    ],
)
def test_parse_address(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:port", "1.2.3.4:70000", "::1:80", "a:-1"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)
    with pytest.raises(argparse.ArgumentTypeError):
        address(text)


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.2", True), ("0.0.0.0", False)])
def test_address_knows_loopback(host: str, loopback: bool) -> None:
    assert Address(host, 1).loopback is loopback


def test_exporter_serves_its_registry_and_releases_the_port() -> None:
    registry = CollectorRegistry()
    Gauge("scrapyfleet_test_up", "Up.", ["node"], registry=registry).labels("a").set(1)
    Counter("scrapyfleet_test_polls", "Polls.", registry=registry).inc(3)
    exporter = start_exporter(Address("127.0.0.1", 0), registry)
    try:
        assert exporter.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(exporter.url, timeout=10) as response:
            text = response.read().decode()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        assert samples[("scrapyfleet_test_up", (("node", "a"),))] == 1
        assert samples[("scrapyfleet_test_polls_total", ())] == 3
        port = int(exporter.url.rsplit(":", 1)[1].split("/")[0])
    finally:
        exporter.close()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the served connection's TIME_WAIT
        s.bind(("127.0.0.1", port))  # released


def test_exporter_on_a_taken_port_raises_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            start_exporter(Address("127.0.0.1", taken.getsockname()[1]), CollectorRegistry())
