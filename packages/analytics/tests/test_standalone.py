"""The job on a standalone Spark cluster (master + worker on loopback): same table as local
mode on the same files, and a restart from the same checkpoint counts nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from scrapyfleet.analytics import standalone
from scrapyfleet.analytics.job import start_query
from scrapyfleet.analytics.options import parse_args
from scrapyfleet.core.procs import pid_alive
from scrapyfleet.demosite.catalog import Catalog, price_text

BOOSTWORDS = str(Path(sys.executable).parent / "boostwords")
DEADLINE = 240.0  # JVMs starting on a busy 2-core machine


def lines(start: int, stop: int) -> list[str]:
    catalog = Catalog(total=1000, seed=5)
    out = []
    for i in range(start, stop):
        item = catalog.item(i, "http://127.0.0.1:9312")
        if i % 2:
            item["title"], item["price"] = [item["title"]], [price_text(item["price"])]
        out.append(json.dumps(item))
    return out


def land(items: Path, name: str, text: list[str]) -> None:
    (items / f".{name}").write_text("\n".join(text) + "\n", encoding="utf-8")
    os.replace(items / f".{name}", items / name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[standalone.Cluster]:
    folder = tmp_path_factory.mktemp("spark-cluster")
    started = standalone.up(folder, cores=2, memory="1g", timeout=DEADLINE)
    try:
        yield started
    finally:
        standalone.down(folder)
        assert not pid_alive(started.master_pid) and not pid_alive(started.worker_pid)


def run_available_now(root: Path, master: str) -> dict[str, Any]:
    """One `boostwords --available-now` run on the cluster; its shifts.json."""
    done = subprocess.run(
        [BOOSTWORDS, str(root / "items"), "--master", master, "--checkpoint", str(root / "ckpt"),
         "--output", str(root / "out"), "--available-now", "--log-format", "json"],
        capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return json.loads((root / "out" / "shifts.json").read_text(encoding="utf-8"))


def local_table(spark: SparkSession, root: Path) -> dict[str, Any]:
    """The same files through the in-process local session (a checkpoint of its own)."""
    args = parse_args(
        [str(root / "items"), "--checkpoint", str(root / "local-ckpt"), "--output",
         str(root / "local-out"), "--available-now"]
    )  # fmt: skip
    query = start_query(spark, args, echo=None)
    query.awaitTermination()
    assert query.exception() is None
    return json.loads((root / "local-out" / "shifts.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_standalone_cluster_matches_local_and_restarts(
    cluster: standalone.Cluster,
    spark: SparkSession,
    tmp_path: Path,
    reference_table: Callable,
    assert_same_table: Callable,
) -> None:
    items = tmp_path / "items"
    items.mkdir()
    first, second = lines(0, 600), lines(600, 1000)
    land(items, "b1_easy_t.jl", [*first, "{broken"])
    document = run_available_now(tmp_path, cluster.master_url)
    assert_same_table(document, reference_table([*first, "{broken"]))

    land(items, "b2_easy_t.jl", [*second, *first[:200]])  # a re-run batch: nothing counts twice
    restarted = run_available_now(tmp_path, cluster.master_url)
    assert_same_table(restarted, reference_table([*first, "{broken", *second, *first[:200]]))
    assert restarted["listings"] == 1000

    local = local_table(spark, tmp_path)
    assert (local["listings"], local["bad_records"]) == (1000, 1)
    got = {row["word"]: row for row in restarted["words"]}
    for row in local["words"]:
        assert got[row["word"]]["count"] == row["count"], row["word"]
        assert got[row["word"]]["sum"] == pytest.approx(row["sum"], rel=1e-12), row["word"]
        assert got[row["word"]]["shift"] == pytest.approx(row["shift"], abs=1e-12), row["word"]
    assert got.keys() == {row["word"] for row in local["words"]}
