"""`boostwords-cluster up|down|status`: a standalone Spark master and one worker on loopback.

Both come from the installed PySpark (`bin/spark-class`; the wheel has no `sbin/start-*.sh`),
bound to 127.0.0.1 on free ports, each in its own process group, and are stopped by PID. The
cluster's address and PIDs are kept in DIR/cluster.json; the logs in DIR/logs. Run the job
against it with `boostwords ITEMS_DIR --master spark://127.0.0.1:PORT` (client mode: the Python
driver runs where it is started; see docs/deployment.md for supervising it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from scrapyfleet.core.files import write_json_atomic
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults
from scrapyfleet.core.procs import free_port, pid_alive, stop_group
from scrapyfleet.core.waits import wait_until

log = structlog.get_logger("scrapyfleet.analytics.standalone")

HOST = "127.0.0.1"
STATE_FILE = "cluster.json"
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
_env = EnvDefaults("boostwords-cluster")


class ClusterError(Exception):
    """The cluster could not be started (the message says why)."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """A running master and worker: what `up` records and `down` stops."""

    master_url: str
    web_ui: str
    master_pid: int
    worker_pid: int

    def alive(self) -> bool:
        return pid_alive(self.master_pid) and pid_alive(self.worker_pid)


def spark_class() -> Path:
    """The installed PySpark's `bin/spark-class`."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _start(name: str, args: list[str], logs: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"SPARK_LOCAL_IP": HOST, "SPARK_NO_DAEMONIZE": "1"}
    with (logs / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            [str(spark_class()), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stopped by PID with its children
        )


def alive_workers(web_ui: str) -> int:
    """Workers the master counts as alive (its JSON status page), 0 if it does not answer."""
    try:
        with urllib.request.urlopen(f"{web_ui}/json/", timeout=1.0) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def up(folder: Path, cores: int, memory: str, timeout: float) -> Cluster:
    """Start a master and one worker; return once the worker has registered."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port, ui_port = free_port(HOST), free_port(HOST)
    master_url, web_ui = f"spark://{HOST}:{port}", f"http://{HOST}:{ui_port}"
    master = _start(
        "master",
        [MASTER, "--host", HOST, "--port", str(port), "--webui-port", str(ui_port)],
        logs,
    )
    worker = _start(
        "worker",
        [WORKER, "--host", HOST, "--port", str(free_port(HOST)), "--webui-port",
         str(free_port(HOST)), "--cores", str(cores), "--memory", memory, "--work-dir",
         str(folder / "work"), master_url],
        logs,
    )  # fmt: skip
    cluster = Cluster(master_url, web_ui, master.pid, worker.pid)
    write_json_atomic(folder / STATE_FILE, asdict(cluster), indent=2)

    def registered() -> bool:
        if master.poll() is not None or worker.poll() is not None:
            down(folder)
            raise ClusterError(f"a Spark process exited during start-up; see {logs}")
        return alive_workers(web_ui) >= 1

    if not wait_until(registered, timeout):
        down(folder)
        raise ClusterError(f"no worker registered within {timeout:.0f} s; see {logs}")
    return cluster


def read(folder: Path) -> Cluster | None:
    """The cluster recorded in `folder`, if any."""
    try:
        return Cluster(**json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def down(folder: Path, grace: float = 10.0) -> bool:
    """Stop the recorded worker, then the master (SIGTERM, SIGKILL after `grace`)."""
    cluster = read(folder)
    if cluster is None:
        return False
    for pid in (cluster.worker_pid, cluster.master_pid):
        stop_group(pid, grace=grace)
    (folder / STATE_FILE).unlink(missing_ok=True)
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boostwords-cluster",
        description="A standalone Spark cluster (one master, one worker) on 127.0.0.1 for the "
        "boostwords job: `up` starts it and prints its master URL, `down` stops it by PID, "
        "`status` says whether it runs.",
        epilog=_env.epilog("dir"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(_env("dir", "runs/spark-cluster")),
        help="directory for cluster.json, the logs and the worker's scratch space",
    )
    settings: tuple[tuple[str, type, str, str], ...] = (
        ("cores", int, "2", "cores the worker offers"),
        ("memory", str, "2g", "memory the worker offers to executors"),
        ("timeout", float, "120", "seconds to wait for the worker to register"),
    )
    for name, kind, default, text in settings:
        parser.add_argument(f"--{name}", type=kind, default=_env(name, default), help=text)
    parser.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=_env("log_format"),
        help="log rendering (default: console on a TTY, JSON lines otherwise)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_format)
    folder: Path = args.dir
    if args.action == "up":
        running = read(folder)
        if running is not None and running.alive():
            log.error("cluster_running", master_url=running.master_url, reason="already up")
            return 1
        try:
            cluster = up(folder, args.cores, args.memory, args.timeout)
        except (ClusterError, OSError) as exc:
            log.error("cluster_failed", reason=str(exc))
            return 1
        log.info("cluster_up", **asdict(cluster))
        print(cluster.master_url, flush=True)
        return 0
    if args.action == "down":
        stopped = down(folder)
        log.info("cluster_down" if stopped else "cluster_absent", dir=str(folder))
        return 0
    recorded = read(folder)
    if recorded is None or not recorded.alive():
        log.info("cluster_absent", dir=str(folder))
        return 1
    log.info("cluster_up", **asdict(recorded))
    return 0


if __name__ == "__main__":
    sys.exit(main())
