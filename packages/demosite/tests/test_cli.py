"""The `demosite` console script as a real process: env options, serving, clean exit, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scrapyfleet.core.procs import url_ok
from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.cli import main

DEMOSITE = str(Path(sys.executable).with_name("demosite"))


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture
def start() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `demosite` with extra args/env; whatever is still running is stopped by PID."""
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [DEMOSITE, *args],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_from_env_options_and_exits_cleanly_on_signal(
    start: Callable[..., subprocess.Popen[str]],
    free_port: Callable[[], int],
    wait_for: Callable[..., object],
    sig: signal.Signals,
) -> None:
    port = free_port()
    env = {
        "SCRAPYFLEET_DEMOSITE_PORT": str(port),
        "SCRAPYFLEET_DEMOSITE_TOTAL": "61",
        "SCRAPYFLEET_DEMOSITE_SEED": "12",
        "SCRAPYFLEET_DEMOSITE_LATENCY": "0",
    }
    proc = start(env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: url_ok(base + "/health"), timeout=20, what="demosite /health")
    assert get(base + "/properties/index_00002.html")[0] == 200  # 61 listings: 3 pages
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(base + "/properties/index_00003.html")
    assert missing.value.code == 404
    body = json.loads(get(base + "/properties/truth.json")[1])
    assert body["words"][0]["shift"] == max(t.shift for t in Catalog(61, 12).truth().values())

    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in err.splitlines()]  # JSON lines: stderr is no TTY
    listening = next(e for e in events if e["event"] == "listening")
    assert listening | {"timestamp": None} == {
        "event": "listening", "level": "info", "timestamp": None, "host": "127.0.0.1",
        "port": port, "total": 61, "latency": 0.0, "seed": 12,
    }  # fmt: skip
    assert "Traceback" not in err


def test_help_shows_every_option_default_and_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCRAPYFLEET_DEMOSITE_TOTAL", "77")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for option in ("--host", "--port", "--total", "--latency", "--seed"):
        assert option in shown
    for text in ("127.0.0.1", "9312", "(default: 77)", "0.25", "SCRAPYFLEET_DEMOSITE_LATENCY"):
        assert text in shown


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--total", "0"], {}, "--total: must be >= 1"),
        (["--latency", "-1"], {}, "--latency: must be a finite number >= 0"),
        (["--latency", "nan"], {}, "--latency: must be a finite number >= 0"),
        ([], {"SCRAPYFLEET_DEMOSITE_PORT": "http"}, "--port: invalid port_number value"),
        (["--port", "70000"], {}, "--port: must be within 0..65535"),
    ],
)
def test_bad_options_exit_2_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_port_in_use_exits_1_with_a_logged_reason(
    start: Callable[..., subprocess.Popen[str]],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = start("--port", str(taken.getsockname()[1]), "--total", "30")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert json.loads(err.splitlines()[-1])["event"] == "bind_failed"
