"""Local scrapyd nodes as processes: each in its own working directory (its `scrapyd.conf` and
a `scrapy.cfg` of egg-less `[settings]` projects), started in its own process group with its
credentials in scrapyd's environment (`SCRAPYD_USERNAME`/`SCRAPYD_PASSWORD`: its jobs inherit
them and prove their attempts), stopped by the PID in its `scrapyd.pid`. The one way every
scrapyd node here is started: `cluster` (demo), the tests of every package, the benchmarks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scrapyfleet.core.credentials import Credentials
from scrapyfleet.core.files import PRIVATE, READABLE, write_text_atomic
from scrapyfleet.core.procs import stop_group, url_ok
from scrapyfleet.core.targets import resolve_targets
from scrapyfleet.core.waits import wait_until

STOP_DEADLINE = 10.0

NODE_CONF = """\
[scrapyd]
bind_address = {host}
http_port = {port}
max_proc = {slots}
poll_interval = {poll}
eggs_dir = eggs
logs_dir = logs
dbs_dir = dbs
# Empty on purpose: a set items_dir overrides the project's FEEDS (the FTP upload).
items_dir =
jobs_to_keep = 50
finished_to_keep = 1000
jobstorage = scrapyd.jobstorage.SqliteJobStorage
"""

NODE_CFG = """\
# scrapyd reads this from its working directory: its egg-less projects (name = settings module).
[settings]
"""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    host: str
    port: int
    slots: int
    root: Path
    auth: Credentials | None = None
    poll: float = 0.5  # scrapyd's poll_interval: how soon a scheduled job starts

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.root / "scrapyd.pid"


def node_specs(
    directory: Path,
    nodes: int,
    host: str,
    base_port: int,
    slots: int,
    auth: Credentials | None = None,
) -> list[NodeSpec]:
    return [
        NodeSpec(f"scrapyd{i}", host, base_port + i - 1, slots, directory / f"scrapyd{i}", auth)
        for i in range(1, nodes + 1)
    ]


def write_configs(directory: Path, specs: list[NodeSpec], projects: Mapping[str, str]) -> Path:
    """Each node's working directory and the cluster's `scrapy.cfg` of deploy targets (the
    first project's); `projects` maps egg-less project names to settings modules."""
    node_cfg = NODE_CFG + "".join(f"{name} = {module}\n" for name, module in projects.items())
    deploy = ["# Deploy targets of the local cluster (crawl-master/monitor --targets 'scrapyd*')."]
    for spec in specs:
        spec.root.mkdir(parents=True, exist_ok=True)
        conf = NODE_CONF.format(host=spec.host, port=spec.port, slots=spec.slots, poll=spec.poll)
        section = [
            f"\n[deploy:{spec.name}]",
            f"url = {spec.url}",
            f"project = {next(iter(projects))}",
            f"slots = {spec.slots}",
        ]
        if spec.auth is not None:
            section += [f"username = {spec.auth.user}", f"password = {spec.auth.password}"]
        write_text_atomic(spec.root / "scrapyd.conf", conf)
        write_text_atomic(spec.root / "scrapy.cfg", node_cfg)
        deploy += section
    config = directory / "scrapy.cfg"
    write_text_atomic(config, "\n".join(deploy) + "\n", _mode(*specs))
    return config


def _mode(*specs: NodeSpec) -> int:
    """Files holding credentials are the owner's alone."""
    return PRIVATE if any(spec.auth for spec in specs) else READABLE


def configured_auth(spec: NodeSpec, directory: Path) -> Credentials | None:
    """The node's credentials in the cluster's deploy targets (what `cluster up` wrote), if any."""
    config = directory / "scrapy.cfg"
    if not config.is_file():
        return None
    try:
        (target,) = resolve_targets([spec.name], config)
    except (LookupError, ValueError):
        return None
    return Credentials.of(target) if target.password else None


def answers(url: str, timeout: float = 1.0, auth: Credentials | None = None) -> bool:
    """Whether the scrapyd node at `url` answers `daemonstatus.json` (with `auth`, if set)."""
    return url_ok(f"{url}/daemonstatus.json", timeout, auth.header() if auth else None)


def node_environment(spec: NodeSpec, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a node's scrapyd runs in: `env` (default ours) with the node's credentials,
    if it has any (scrapyd's own variables; its jobs inherit them and prove their attempts)."""
    environment = dict(os.environ if env is None else env)
    if spec.auth is not None:
        environment |= {"SCRAPYD_USERNAME": spec.auth.user, "SCRAPYD_PASSWORD": spec.auth.password}
    return environment


def start_node(spec: NodeSpec, env: Mapping[str, str] | None = None) -> int:
    """Start one scrapyd in its directory, in its own process group; returns its PID."""
    if answers(spec.url, auth=spec.auth):
        raise RuntimeError(f"{spec.url} already answers: is {spec.name} running?")
    with (spec.root / "scrapyd.out").open("ab") as out:
        process = subprocess.Popen(
            # No twistd.pid: the PID is ours to keep, and a stale one (a node that died with
            # kill -9) would stop the node from starting again.
            [sys.executable, "-m", "scrapyd", "--pidfile="],
            cwd=spec.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=node_environment(spec, env),
        )
    spec.pidfile.write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


def wait_ready(specs: list[NodeSpec], timeout: float = 30.0) -> None:
    waiting = list(specs)

    def all_answer() -> bool:
        waiting[:] = [s for s in waiting if not answers(s.url, auth=s.auth)]
        return not waiting

    if not wait_until(all_answer, timeout, interval=0.1):
        names = ", ".join(s.name for s in waiting)
        raise TimeoutError(f"{names} did not answer within {timeout}s (see scrapyd.out)")


def stop_node(spec: NodeSpec) -> bool:
    """Stop the node recorded in its pidfile (its job processes too). False if none ran."""
    try:
        pid = int(spec.pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    stop_group(pid, grace=STOP_DEADLINE)
    spec.pidfile.unlink(missing_ok=True)
    return True
