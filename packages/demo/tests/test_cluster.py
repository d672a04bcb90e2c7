"""`cluster` with auth: real scrapyd nodes that refuse anonymous calls; open binds refused."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scrapyfleet.core.procs import script

PASSWORD = "canary-cluster-8d1f"


def cluster(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("cluster"), *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **(env or {})},
    )


def status_code(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_open_bind_without_auth_is_refused(tmp_path: Path) -> None:
    result = cluster("up", "--dir", str(tmp_path), "--host", "0.0.0.0", "--nodes", "1")
    assert result.returncode == 2
    assert "without auth" in result.stderr
    assert not (tmp_path / "scrapyd1").exists()  # refused before anything was written


def test_user_without_password_is_refused(tmp_path: Path) -> None:
    result = cluster("up", "--dir", str(tmp_path), "--user", "ops")
    assert result.returncode == 2
    assert "SCRAPYFLEET_CLUSTER_PASSWORD" in result.stderr


@pytest.fixture
def auth_cluster(tmp_path: Path, free_port: Callable[[], int]) -> Iterator[tuple[Path, str, str]]:
    """One node started with auth (password from the environment); stopped by PID after. Its
    directory, URL and what `cluster up` logged."""
    directory, port = tmp_path / "cluster", free_port()
    args = ["--dir", str(directory), "--nodes", "1", "--base-port", str(port)]
    env = {"SCRAPYFLEET_CLUSTER_PASSWORD": PASSWORD}
    up = cluster("up", *args, "--user", "ops", env=env)
    try:
        assert up.returncode == 0, up.stderr
        yield directory, f"http://127.0.0.1:{port}", up.stderr
    finally:
        cluster("down", *args)


def test_auth_cluster_needs_credentials_and_tools_use_them(
    auth_cluster: tuple[Path, str, str],
) -> None:
    directory, url, _ = auth_cluster
    assert status_code(f"{url}/daemonstatus.json") == 401
    assert status_code(f"{url}/daemonstatus.json", f"ops:{PASSWORD}") == 200
    assert (directory / "scrapy.cfg").stat().st_mode & 0o777 == 0o600
    for path in (directory / "scrapyd1").rglob("*"):  # the node's own files hold no secret
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path
    args = ["--dir", str(directory), "--nodes", "1", "--base-port", url.rpartition(":")[2]]
    assert cluster("status", *args).returncode == 0  # credentials read from the node's conf
    monitor = subprocess.run(
        [script("monitor"), "--config", str(directory / "scrapy.cfg"), "--targets", "scrapyd*",
         "--once", "--log-format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert monitor.returncode == 0, monitor.stderr
    assert PASSWORD not in monitor.stdout + monitor.stderr
    assert cluster("down", *args).returncode == 0
    assert cluster("status", *args).returncode == 1


def test_up_lists_the_spiders_of_every_node_once_ready(
    auth_cluster: tuple[Path, str, str],
) -> None:
    """The `scrapy list` of a node's first listspiders/schedule call is paid at `up`, with the
    nodes' credentials, after `cluster_ready`."""
    _, _, logged = auth_cluster
    events = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names.index("cluster_ready") < names.index("spiders_listed")
    [listed] = [e for e in events if e["event"] == "spiders_listed"]
    assert listed["project"] == "fleetdemo"
    assert listed["nodes"] == {"scrapyd1": True}
