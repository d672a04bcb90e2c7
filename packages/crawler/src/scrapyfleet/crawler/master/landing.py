"""Landings confirmed by the sink: the receipt key, and the check of a report's receipt.

ftpsink, given a receipt key, signs a receipt (name, bytes, lines) into the `226` of every file it
lands; the worker's report carries it (`contract.FeedFile.receipt`). The master, given the same
key (`SCRAPYFLEET_CRAWL_MASTER_RECEIPT_KEY` or `--receipt-key-file`, never the command line),
settles a report's URLs as landed only when the receipt verifies and names the report's feed
file with its bytes and lines; otherwise the attempt fails (`receipt_missing`, `receipt_invalid`)
and the batch is retried. Without a key, a worker's word is taken (logged once at start).
docs/architecture.md, "Landing receipt".
"""

from __future__ import annotations

import os
from pathlib import Path

from scrapyfleet.core import receipts
from scrapyfleet.crawler.contract import WorkerReport

KEY_ENV = "SCRAPYFLEET_CRAWL_MASTER_RECEIPT_KEY"
MISSING, INVALID = "receipt_missing", "receipt_invalid"


def receipt_key(key_file: str | None) -> bytes | None:
    """The receipt key from `key_file` or the environment (None: neither); ValueError says why
    a given one cannot be used."""
    text = os.environ.get(KEY_ENV)
    if text is not None and key_file:
        raise ValueError(f"give the receipt key once: --receipt-key-file or {KEY_ENV}")
    try:
        if key_file:
            return receipts.read_key_file(Path(key_file))
        return None if text is None else receipts.key_from_text(text)
    except OSError as exc:
        raise ValueError(f"cannot read --receipt-key-file: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"receipt key: {exc}") from None


def receipt_problem(
    key: bytes, report: WorkerReport, batch_urls: int, batch_id: str | None
) -> str | None:
    """Why the sink did not confirm what `report` says landed (a batch of `batch_urls` URLs,
    whose feed name holds `batch_id` unless that is None: the feed template has no `%(batch)s`);
    None when it did, or when the report says none of its URLs landed."""
    if len({failure.url for failure in report.failures}) >= batch_urls:
        return None
    feed = report.feed
    if feed is None or feed.receipt is None:
        return f"{MISSING}: the sink confirmed no landing"
    receipt = receipts.parse(feed.receipt)
    if receipt is None or not receipts.verify(key, receipt):
        return f"{INVALID}: not signed with the receipt key"
    if (receipt.name, receipt.size, receipt.lines) != (feed.name, feed.bytes, feed.lines):
        return (
            f"{INVALID}: it confirms {receipt.name} ({receipt.size} bytes, {receipt.lines} "
            f"lines), the report {feed.name} ({feed.bytes} bytes, {feed.lines} lines)"
        )
    if batch_id is not None and batch_id not in feed.name:
        return f"{INVALID}: {feed.name} is not a feed file of {batch_id}"
    return None
