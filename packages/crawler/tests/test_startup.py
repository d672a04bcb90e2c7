"""A failure in crawl-master's start-up (here: a batch-endpoint certificate that is no PEM, which
the preflight does not parse) ends the run with the named reason and exit 1, never a hang."""

from __future__ import annotations

import json
from pathlib import Path


def test_a_failed_start_ends_the_run_with_its_reason(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    site = site_factory(total=60)
    cluster = cluster_factory([1])
    garbage = tmp_path / "cert.pem"
    garbage.write_text("not a certificate\n")
    run_dir = tmp_path / "run"
    result = run_master(
        ["--config", str(cluster.config), "--site", site.url, "--index-pages", "2",
         "--feed-uri", sink.feed_uri, "--run-dir", str(run_dir), "--tls-cert", str(garbage)],
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "crawl-master: run aborted: start-up failed: SSLError" in result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["fatal"].startswith("start-up failed") and not summary["ok"]
