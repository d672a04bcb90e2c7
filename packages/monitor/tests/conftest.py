"""Real scrapyd processes for tests: a node directory with a tiny egg-less project, started and
stopped by PID.

The project `tiny` has one spider, `wait`, that makes no request and finishes as soon as the file
named by its `release` argument exists, or a file `all` next to it, or after `timeout` seconds.
Tests drive each job's pending -> running -> finished steps by creating files instead of sleeping.
Also: scrapy.cfg writing, and small aiohttp servers in threads (webhook receivers, Prometheus
endpoints standing in for crawl-master and ftpsink).

Over 250 lines on purpose: the monitor tests' real parts, each a fixture every test file shares
(pytest finds fixtures only in conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from scrapyfleet.core.contracts import PROJECT as DEMO_PROJECT
from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.passwords import hash_password
from scrapyfleet.core.procs import pid_alive, stop_group
from scrapyfleet.core.scrapydnodes import NodeSpec, answers, start_node, stop_node, write_configs
from scrapyfleet.core.waits import wait_until

PROJECT = "tiny"

SETTINGS = """\
BOT_NAME = "tinyproj"
SPIDER_MODULES = ["tinyproj.spiders"]
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
"""

SPIDER = """\
import asyncio
import time
from pathlib import Path

import scrapy


class WaitSpider(scrapy.Spider):
    name = "wait"
    release = ""
    timeout = "60"

    async def start(self):
        deadline = time.monotonic() + float(self.timeout)
        release = Path(self.release)
        while not (release.exists() or (release.parent / "all").exists()):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        return
        yield
"""

PROJECT_FILES = {
    "tinyproj/__init__.py": "",
    "tinyproj/settings.py": SETTINGS,
    "tinyproj/spiders/__init__.py": "",
    "tinyproj/spiders/wait.py": SPIDER,
}


@pytest.fixture
def tiny_egg() -> bytes:
    """The tiny project as an egg, for addversion.json."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as egg:
        egg.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.0\nName: tinyproj\nVersion: 1.0\n")
        egg.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = tinyproj.settings\n")
        for name, text in PROJECT_FILES.items():
            egg.writestr(name, text)
    return buffer.getvalue()


class ScrapydNode:
    """One scrapyd process serving the tiny project from `root` on 127.0.0.1:`port`
    (`scrapyfleet.core.scrapydnodes`, as every node here is started)."""

    def __init__(
        self,
        root: Path,
        port: int,
        *,
        max_proc: int = 1,
        username: str = "",
        password: str = "",
    ) -> None:
        self.root = root
        self.port = port
        self.username = username
        self.password = password
        auth = Credentials(username, password) if username else None
        self.spec = NodeSpec(root.name, "127.0.0.1", port, max_proc, root, auth, poll=0.2)
        for name, text in PROJECT_FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        targets = root / "targets"  # its deploy target, apart from the tests' own scrapy.cfg
        targets.mkdir()
        write_configs(targets, [self.spec], {PROJECT: "tinyproj.settings"})
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return self.spec.url

    def start(self, timeout: float = 30.0) -> None:
        """Start scrapyd and wait until daemonstatus.json answers."""
        pid = self.pid = start_node(self.spec, {**os.environ, "PYTHONPATH": str(self.root)})
        if not wait_until(lambda: self.answers() or not pid_alive(pid), timeout) or not (
            self.answers()
        ):
            self.stop()
            out = (self.root / "scrapyd.out").read_text()
            raise RuntimeError(f"scrapyd on port {self.port} not ready after {timeout}s: {out}")

    def answers(self) -> bool:
        return answers(self.url, auth=self.spec.auth)

    def get(self, endpoint: str) -> dict[str, object]:
        """A GET to this node with urllib (independent of the client under test)."""
        return self._request(urllib.request.Request(f"{self.url}/{endpoint}"))

    def schedule(self, spider: str = "wait", **args: str) -> str:
        """schedule.json with urllib; returns the job id."""
        form = urllib.parse.urlencode({"project": PROJECT, "spider": spider, **args}).encode()
        answer = self._request(urllib.request.Request(f"{self.url}/schedule.json", data=form))
        assert answer["status"] == "ok", answer
        return str(answer["jobid"])

    def _request(self, request: urllib.request.Request) -> dict[str, object]:
        if self.spec.auth is not None:
            for name, value in self.spec.auth.header().items():
                request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.load(response))

    def stop(self) -> None:
        """Stop the node by PID, its jobs too."""
        stop_node(self.spec)
        self.pid = None

    def kill(self) -> None:
        """kill -9 of scrapyd alone: the node dies without cleaning up, its jobs orphaned."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(self.pid or 0), 10)
            self.spec.pidfile.unlink(missing_ok=True)
            self.pid = None


NodeFactory = Callable[..., ScrapydNode]


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    """Directory of release files for `wait` jobs; `all` in it releases every job."""
    folder = tmp_path / "releases"
    folder.mkdir()
    return folder


@pytest.fixture
def scrapyd_node(
    tmp_path: Path, free_port: Callable[[], int], releases: Path
) -> Iterator[NodeFactory]:
    """Factory of started scrapyd nodes; teardown releases every job and stops each node by PID."""
    nodes: list[ScrapydNode] = []

    def make(**options: object) -> ScrapydNode:
        node = ScrapydNode(tmp_path / f"node{len(nodes) + 1}", free_port(), **options)  # type: ignore[arg-type]
        nodes.append(node)
        node.start()
        return node

    yield make
    (releases / "all").touch()
    for node in nodes:
        node.stop()


class MonitorProcess:
    """The `monitor` CLI as a subprocess; its JSON-line events collected by a reader thread."""

    def __init__(self, args: list[str], cwd: Path, stderr: Path) -> None:
        self.events: list[dict[str, object]] = []
        self.stderr = stderr
        with stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scrapyfleet.monitor.cli", "--log-format", "json", *args],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))

    def find(self, start: int = 0, **fields: object) -> dict[str, object] | None:
        """The first event from index `start` on whose fields include `fields`."""
        for event in self.events[start:]:
            if all(event.get(k) == v for k, v in fields.items()):
                return event
        return None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, str]:
        """Signal the monitor by PID; its exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout)
        return self.process.returncode, self.stderr.read_text()


@pytest.fixture
def run_monitor(tmp_path: Path) -> Iterator[Callable[..., MonitorProcess]]:
    """Factory of monitor subprocesses, each stopped by PID at teardown."""
    started: list[MonitorProcess] = []

    def start(*args: str, cwd: Path) -> MonitorProcess:
        stderr = tmp_path / f"monitor{len(started) + 1}.stderr"
        started.append(MonitorProcess(list(args), cwd, stderr))
        return started[-1]

    yield start
    for monitor in started:
        monitor.stop(signal.SIGKILL)


def write_config(folder: Path, nodes: dict[str, Any], **extra: object) -> Path:
    """A scrapy.cfg with one [deploy:NAME] per node, project `tiny`."""
    lines = ["[deploy]", f"project = {PROJECT}", ""]
    for name, node in nodes.items():
        lines += [f"[deploy:{name}]", f"url = {node.url}/"]
        lines += [f"{key} = {value}" for key, value in extra.items()]
        lines.append("")
    path = folder / "scrapy.cfg"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(name="write_config")
def write_config_fixture() -> Callable[..., Path]:
    return write_config


class AppThread:
    """An aiohttp application on 127.0.0.1 (a free port), served by its own loop in a thread."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()  # set up inside it too: the test's thread may run a loop (Playwright)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def serve_app() -> Iterator[Callable[[web.Application], str]]:
    """Factory: serve an aiohttp application in a thread; its base URL. Stopped at teardown."""
    threads: list[AppThread] = []

    def serve(app: web.Application) -> str:
        threads.append(AppThread(app))
        return threads[-1].url

    yield serve
    for thread in threads:
        thread.stop()


class Receiver:
    """A webhook receiver: records every JSON document POSTed to /hook; the first `fail` requests
    get HTTP 500."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests = 0
        self.received: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self.hook)

    async def hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.requests <= self.fail:
            return web.Response(status=500, text="not now")
        self.received.append(await request.json())
        return web.Response(status=204)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [doc for doc in list(self.received) if doc["event"] == event]


class CrawlMasterStub:
    """Stands in for crawl-master's metrics endpoint until it serves its own: a real registry
    with the names the console expects, served by aiohttp."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.batches = Gauge("scrapyfleet_crawl_batches", "Batches.", ["state"], registry=r)
        self.urls = Gauge("scrapyfleet_crawl_urls", "URLs.", ["outcome"], registry=r)
        self.pages = Counter("scrapyfleet_crawl_pages", "Pages.", registry=r)
        self.items = Counter("scrapyfleet_crawl_items", "Items.", registry=r)
        self.nodes = Gauge("scrapyfleet_crawl_nodes", "Nodes.", ["state"], registry=r)
        self.started = Gauge("scrapyfleet_crawl_started_timestamp_seconds", "Start.", registry=r)
        self.finished = Gauge("scrapyfleet_crawl_finished", "End.", ["outcome"], registry=r)
        self.started.set(1_700_000_000)
        self._pages = self._items = 0
        self.app = web.Application()
        self.app.router.add_get("/metrics", self.metrics)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    def progress(self, landed: int, pending: int, pages: int) -> None:
        """Set the figures of a crawl this far (counters only grow: call with larger numbers)."""
        for outcome, n in {"landed": landed, "pending": pending, "failed": 1, "gone": 0}.items():
            self.urls.labels(outcome).set(n)
        for state, n in {"queued": pending // 10, "running": 3, "done": landed // 10}.items():
            self.batches.labels(state).set(n)
        self.nodes.labels("usable").set(3)
        self.nodes.labels("set_aside").set(0)
        self.pages.inc(pages - self._pages)
        self.items.inc(landed - self._items)
        self._pages, self._items = pages, landed


@pytest.fixture
def crawl_master_stub(
    serve_app: Callable[[web.Application], str],
) -> Callable[[], tuple[CrawlMasterStub, str]]:
    """Factory: a served CrawlMasterStub and its metrics URL."""

    def make() -> tuple[CrawlMasterStub, str]:
        stub = CrawlMasterStub()
        return stub, serve_app(stub.app) + "/metrics"

    return make


@pytest.fixture
def receiver(
    serve_app: Callable[[web.Application], str],
) -> Callable[..., tuple[Receiver, str]]:
    """Factory: a served webhook Receiver (`fail` first requests get 500) and its URL."""

    def make(fail: int = 0) -> tuple[Receiver, str]:
        hooked = Receiver(fail)
        return hooked, serve_app(hooked.app) + "/hook"

    return make


class Fleet:
    """A demo site and scrapyd nodes serving the `properties` project, for real crawl-master runs
    (feeds go to `items`, a local directory; the ledger's summary is what tests check)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items = root / "items"
        self.items.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.nodes: list[Any] = []
        self.site = ""

    @property
    def feed(self) -> str:
        return f"file://{self.items}/%(batch)s_%(name)s_%(time)s.jl"

    def options(self, total: int, **extra: object) -> dict[str, object]:
        """crawl-master options for a crawl of the whole site."""
        return {"site": self.site, "index-pages": max(1, total // 30), "feed-uri": self.feed,
                "batch-size": 30, "concurrency": 8, **extra}  # fmt: skip


@pytest.fixture
def fleet(
    tmp_path: Path, free_port: Callable[[], int], wait_for: Callable[..., Any]
) -> Iterator[Callable[..., Fleet]]:
    """Factory: a demo site of `total` listings (optional fault plan) and `nodes` scrapyd nodes
    of 2 slots; every process stopped by PID at teardown."""
    from scrapyfleet.core.procs import url_ok

    made: list[Fleet] = []

    def make(total: int, nodes: int = 2, faults: Path | None = None, latency: float = 0.0) -> Fleet:
        fleet = Fleet(tmp_path / "fleet")
        made.append(fleet)
        port = free_port()
        extra = ["--faults", str(faults)] if faults is not None else []
        site = subprocess.Popen(
            [Path(sys.executable).parent / "demosite", "--port", str(port), "--total", str(total),
             "--latency", str(latency), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        fleet.processes.append(site)
        fleet.site = f"http://127.0.0.1:{port}"
        specs = [NodeSpec(f"scrapyd{i}", "127.0.0.1", free_port(), 2, fleet.root / f"scrapyd{i}")
                 for i in range(1, nodes + 1)]  # fmt: skip
        write_configs(fleet.root, specs, {DEMO_PROJECT: "scrapyfleet.crawler.settings"})
        fleet.nodes = specs
        for spec in specs:
            start_node(spec)
        wait_for(lambda: url_ok(fleet.site + "/health"), 30, what="demo site")
        for spec in specs:
            wait_for(lambda s=spec: answers(s.url), 60, what=f"{spec.name}")
        return fleet

    yield make
    for fleet in made:
        for process in fleet.processes:
            stop_group(process.pid)
        for spec in fleet.nodes:
            stop_node(spec)


# The console's /api/ as a script drives it.


def users_file(path: Path, **roles: str) -> Path:
    """A users file with NAME:ROLE:HASH lines; each user's password is `NAME-secret`."""
    path.write_text("".join(f"{n}:{r}:{hash_password(n + '-secret')}\n" for n, r in roles.items()))
    return path


class Console:
    def __init__(self, url: str, user: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.csrf = ""

    def call(
        self, method: str, path: str, doc: Any = None, *, origin: str | None = "",
        csrf: bool = True,
    ) -> tuple[int, Any]:  # fmt: skip
        data = json.dumps(doc).encode() if doc is not None else None
        request = urllib.request.Request(f"{self.url}/api/{path}", data=data, method=method)
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.user}-secret".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        if method != "GET":
            if not self.csrf:
                self.csrf = self.call("GET", "me")[1]["csrf"]
            if origin is not None:
                request.add_header("Origin", origin or self.url)
            if csrf:
                request.add_header("X-CSRF-Token", self.csrf)
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw.startswith(b"{") else raw.decode()

    def get(self, path: str) -> Any:
        status, doc = self.call("GET", path)
        assert status == 200, (path, status, doc)
        return doc

    def post(self, path: str, doc: Any = None) -> Any:
        status, answer = self.call("POST", path, doc if doc is not None else {})
        assert status == 200, (path, status, answer)
        return answer


def stop_runs(state_dir: Path) -> None:
    """Stop by PID every crawl-master a console left running (each leads its own group)."""
    db = state_dir / "console.sqlite"
    if not db.exists():
        return
    with sqlite3.connect(db) as conn:
        pids = [pid for (pid,) in conn.execute("SELECT pid FROM runs WHERE pid IS NOT NULL")]
    for pid in pids:
        stop_group(pid, grace=5)


@pytest.fixture(name="console_api")
def console_api_fixture() -> type[Console]:
    return Console


@pytest.fixture
def console(
    tmp_path: Path, run_monitor: Callable[..., Any], wait_for: Callable[..., Any]
) -> Iterator[Callable[..., tuple[Any, str]]]:
    """Factory: start a monitor with the fleet's targets, a state dir and accounts (operator
    `ops`, viewer `eve`); its URL. Crawl-masters it left are stopped by PID at teardown."""
    state = tmp_path / "state"
    users = users_file(tmp_path / "users", ops="operator", eve="viewer")

    def start(config: Path, *extra: str) -> tuple[Any, str]:
        monitor = run_monitor(
            "--config", str(config), "--web", "127.0.0.1:0", "--interval", "0.5",
            "--state-dir", str(state), "--users-file", str(users), *extra, cwd=tmp_path,
        )  # fmt: skip
        found = wait_for(lambda: monitor.find(event="web_console"), 30, what="console URL")
        return monitor, str(found["url"])

    yield start
    stop_runs(state)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (tests skip without /usr/bin/chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
