"""Ledger benchmark: N URLs (1,000,000 by default) through the master's ledger alone.

Drives the real `Ledger` as the master does, without a fleet: for each batch of `--batch-size`
new URLs (like `http://127.0.0.1:8000/properties/property_000123.html`), the collector's
de-duplication (`UrlBook.known` of the batch's fingerprints), `add_batch` with the fingerprints,
the batch scheduled, and a worker's successful report settled (`done_and_settled`) with
`--failures` of its URLs named: half `gone` (404), half transiently failed (500), which wait for
their retry and go into retry batches (`UrlBook.due`) that land. Every batch is followed by one
progress tick's `UrlBook.counts()`. Request fingerprints are SHA-1 digests of the URL (what
Scrapy's default fingerprinter yields, in size and spread), made outside the timed sections.

Prints and writes `ledgersize.json`: the ledger's bytes per URL on disk (once closed, its WAL
checkpointed), the microseconds per URL of de-duplication, add_batch, settle and the ticks'
counts(), the milliseconds of one counts() at 10%, 50% and 100% of the run, and the process RSS
at those points. Run by hand, on an otherwise idle machine:

    .venv/bin/python bench/ledgersize.py                       # 1,000,000 URLs
    .venv/bin/python bench/ledgersize.py --urls 10000000 --out /tmp/ledger-10m
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from scrapyfleet.crawler.contract import WorkerReport
from scrapyfleet.crawler.master.ledger import LEDGER_NAME, Ledger
from scrapyfleet.crawler.outcomes import status_failure
from scrapyfleet.crawler.retrywindow import RetryRule

MIB = 2**20
URL = "http://127.0.0.1:8000/properties/property_{:06d}.html"
RULE = RetryRule(max_attempts=3, window=600.0)
MARKS = (0.1, 0.5, 1.0)  # fractions of the run where counts() and RSS are sampled


def run(ledger: Ledger, total: int, size: int, failing: float) -> dict[str, Any]:
    """Feed `total` URLs through `ledger`; the timings and samples."""
    spent = {"dedup": 0.0, "add_batch": 0.0, "settle": 0.0, "counts": 0.0}
    samples: list[dict[str, float]] = []
    every = max(1, round(1 / failing)) if failing else 0
    made, marks = 0, list(MARKS)
    while made < total:
        urls = [URL.format(i) for i in range(made, min(total, made + size))]
        fingerprints = [hashlib.sha1(url.encode()).digest() for url in urls]
        start = time.perf_counter()
        known = ledger.urls.known(fingerprints)
        spent["dedup"] += time.perf_counter() - start
        assert not known, "every URL is new"
        failures = [
            status_failure(url, 404 if (made + i) // every % 2 else 500)
            for i, url in enumerate(urls)
            if every and (made + i) % every == 0
        ]
        settle(ledger, spent, urls, fingerprints, failures)
        due = [url for url, _ in ledger.urls.due(now=time.time() + 3600)]
        if due:
            settle(ledger, spent, due, [], [])
        made += len(urls)
        if made >= marks[0] * total:
            marks.pop(0)
            start = time.perf_counter()
            ledger.urls.counts()
            took = time.perf_counter() - start
            rss = psutil.Process().memory_info().rss / MIB
            samples.append({"urls": made, "counts_ms": round(took * 1000, 3),
                            "rss_mib": round(rss, 1)})  # fmt: skip
    counts = ledger.urls.counts()
    assert counts["landed"] + counts["gone"] == total and counts["pending"] == 0, counts
    return {"spent": spent, "samples": samples, "counts": counts}


def settle(
    ledger: Ledger, spent: dict[str, float], urls: list[str], fingerprints: list[bytes],
    failures: list[Any],
) -> None:  # fmt: skip
    """One batch added, scheduled, and settled by a successful report, and a progress tick's
    counts() (each but the scheduling timed)."""
    start = time.perf_counter()
    batch = ledger.add_batch("r", urls, fingerprints)
    spent["add_batch"] += time.perf_counter() - start
    job = f"{batch.id}-a1"
    ledger.scheduled(batch.id, "n1", job)
    report = WorkerReport(job, "n1", 1, len(urls), len(urls), "finished", True, None, failures)
    start = time.perf_counter()
    ledger.done_and_settled(report, batch.id, RULE)
    spent["settle"] += time.perf_counter() - start
    start = time.perf_counter()
    ledger.urls.counts()
    spent["counts"] += time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--urls", type=int, default=1_000_000, help="URLs in all")
    p.add_argument("--batch-size", type=int, default=1000, help="URLs per batch (the default)")
    p.add_argument("--failures", type=float, default=0.01, help="share of URLs named failed")
    p.add_argument("--out", type=Path, default=None, help="write ledgersize.json here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ledgersize-") as tmp:
        path = Path(tmp) / LEDGER_NAME
        ledger = Ledger(path)
        wall = time.perf_counter()
        result = run(ledger, args.urls, args.batch_size, args.failures)
        wall = time.perf_counter() - wall
        ledger.close()  # the last connection's close checkpoints the WAL into the file
        size = sum(f.stat().st_size for f in Path(tmp).glob(f"{LEDGER_NAME}*"))
    figures = {
        "urls": args.urls,
        "batch_size": args.batch_size,
        "failures": args.failures,
        "wall_seconds": round(wall, 1),
        "ledger_bytes": size,
        "ledger_bytes_per_url": round(size / args.urls, 1),
        **{f"{k}_us_per_url": round(v / args.urls * 1e6, 2) for k, v in result["spent"].items()},
        "samples": result["samples"],
        "counts": result["counts"],
    }
    print(json.dumps(figures, indent=2))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ledgersize.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
