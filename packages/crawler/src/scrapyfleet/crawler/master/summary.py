"""The run summary: what a distributed crawl did, per node, and why it failed if it did."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import structlog

from scrapyfleet.core.contracts import LISTINGS_PER_PAGE, Events
from scrapyfleet.core.files import PRIVATE, write_json_atomic, write_text_atomic
from scrapyfleet.crawler.master.ledger import INDEX_DONE
from scrapyfleet.crawler.outcomes import OUTCOMES, SETTLED_OK

if TYPE_CHECKING:
    from scrapyfleet.crawler.master.fleet import Fleet

log = structlog.get_logger("scrapyfleet.crawler.master.summary")

SUMMARY_NAME = "summary.json"
FAILED_NAME = "failed.jl"  # every URL that did not land: url, outcome, reason, attempts, node


def build_summary(fleet: Fleet, reason: str, wall: float, master_pages: int) -> dict[str, Any]:
    """Figures from the ledger and the dispatcher's outcome."""
    batches = fleet.ledger.batches()
    done = [b for b in batches if b.state == "done"]
    nodes: dict[str, dict[str, int]] = defaultdict(lambda: {"batches": 0, "items": 0, "pages": 0})
    for b in done:
        entry = nodes[b.node or "?"]
        entry["batches"] += 1
        entry["items"] += b.items or 0
        entry["pages"] += b.pages or 0
    pages = master_pages + sum(b.pages or 0 for b in done)
    history = fleet.ledger.attempt_history()
    retried = sorted({str(a["batch"]) for a in history if a["outcome"] == "failed"})
    failed = {b.id: b.error or "unknown" for b in batches if b.state == "failed"}
    unsettled = [b.id for b in batches if b.state not in ("done", "failed")]
    book = fleet.ledger.urls
    urls = book.counts()
    failed_pages = book.failed_index_pages()
    crawled = fleet.ledger.get_meta(INDEX_DONE) == "1"
    index = {
        "crawled": crawled,  # the index crawl ran to its end (not interrupted, not aborted)
        "complete": crawled and not failed_pages,
        "failed_pages": [{"url": url, "reason": why} for url, why in failed_pages],
        # Each failed page hid its own listings and the rest of its shard's `next` chain.
        "missing_listings_at_least": len(failed_pages) * LISTINGS_PER_PAGE,
    }
    all_accounted = not any(urls[o] for o in OUTCOMES if o not in SETTLED_OK)
    nothing_diverted = reason == "finished" and not batches  # the target matched nothing
    ok = (
        reason == "finished"
        and not nothing_diverted
        and not failed
        and not unsettled
        and fleet.outcome.fatal is None
        and all_accounted
        and not failed_pages
    )
    return {
        "ok": ok,
        "reason": reason,
        "fatal": fleet.outcome.fatal,
        "nothing_diverted": nothing_diverted,
        "run_id": fleet.run_id,
        "wall_seconds": round(wall, 3),
        "batches": len(batches),
        "batches_done": len(done),
        "items": sum(b.items or 0 for b in done),
        "urls": urls,
        "urls_total": sum(urls.values()),
        "urls_retried": book.retried(),
        "index": index,
        "failed_list": FAILED_NAME,
        "pages": pages,
        "pages_per_second": round(pages / wall, 1) if wall > 0 else None,
        "nodes": dict(nodes),
        "troubled_nodes": fleet.troubled_nodes(),
        "retried_batches": retried,
        "failed_batches": failed,
        "unsettled_batches": unsettled,
        "failed_attempts": [a for a in history if a["outcome"] == "failed"],
        # site_down / site_up / site_slowed / site_given_up, and the domains down at the end
        "sites": fleet.sites.snapshot() if fleet.sites is not None else {"down": [], "events": []},
    }


def write_summary(fleet: Fleet, reason: str, wall: float, master_pages: int) -> dict[str, Any]:
    """Write `summary.json` into the run directory (atomically) and log it; a directory that
    takes no more (disk full) is logged, the summary still returned."""
    summary = build_summary(fleet, reason, wall, master_pages)
    path = fleet.config.run_dir / SUMMARY_NAME
    lines = (json.dumps(r.to_json()) + "\n" for r in fleet.ledger.urls.not_landed())
    try:
        write_json_atomic(path, summary, indent=2, mode=PRIVATE)
        write_text_atomic(fleet.config.run_dir / FAILED_NAME, lines, PRIVATE)
    except OSError as exc:
        log.error("summary_unwritten", path=str(path), reason=str(exc))
    fields = {k: v for k, v in summary.items() if k != "failed_attempts"}
    log.info(Events.RUN_SUMMARY, path=str(path), **fields)
    return summary
