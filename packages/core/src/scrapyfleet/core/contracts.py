"""The contracts between packages, as code (docs/architecture.md, "Contracts").

- the site: the book's URL layout and the demo defaults the crawler and the demo site share;
- the item line: one JSON object per line of a worker's feed, read by the analytics;
- the landing-name rule: which uploaded names ftpsink lands (names every reader opens, Spark's
  file source included), and how any text becomes one;
- the analytics output: `shifts.json` and `progress.json`, read by the demo and the monitor;
- the event names other processes read from a component's JSON-line log.
"""

from __future__ import annotations

import string
from typing import Final, TypedDict

# -- the site -----------------------------------------------------------------------------------
PROJECT: Final = "fleetdemo"  # the built-in demo project (BOT_NAME) and its egg-less scrapyd name
SITE_URL: Final = "http://127.0.0.1:9312"  # the demo site's default address
SITE_TOTAL: Final = 50_000  # listings on the book's site (and the demo's default)
LISTINGS_PER_PAGE: Final = 30  # listings per index page, as on the book's site


def index_pages(total: int) -> int:
    """Index pages of a site with `total` listings."""
    return -(-total // LISTINGS_PER_PAGE)


# -- the item line ------------------------------------------------------------------------------
class ItemLine(TypedDict):
    """One listing as a worker exports it (a JSON object per line of a `.jl` feed).

    The analytics needs `url`, `title` and `price`; it also accepts the book's shapes (title as a
    list of strings, price as price text or a list), see `scrapyfleet.analytics.items`.
    """

    url: str
    title: str
    price: float | None
    description: str
    address: str
    image: str
    spider: str
    node: str
    batch: str
    crawled_at: str  # ISO-8601 UTC, milliseconds


ANALYSED_FIELDS: Final = ("url", "title", "price")  # of an item line, what the analytics reads


# -- the landing-name rule ----------------------------------------------------------------------
MAX_NAME_BYTES: Final = 255  # one path component on Linux file systems
# Characters every reader opens without quoting or escaping: Hadoop paths (Spark's file source)
# reject `:`, URL-style readers decode `+` and `%`, shells split on spaces.
NAME_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "._-")
# Spark's file source (Hadoop's listing) skips these: names starting with `.` or `_`, and files
# still being copied (`._COPYING_`).
HIDDEN_PREFIXES: Final = (".", "_")
COPYING_SUFFIX: Final = "._COPYING_"


def landing_name_problem(name: str) -> str | None:
    """Why an uploaded file may not land under `name` (a bare file name), or None if it may.

    A landing name is one component in the landing directory (no subdirectory) of ASCII letters,
    digits and `._-` only, at most MAX_NAME_BYTES bytes, not hidden from Spark.
    """
    if not name:
        return "empty name"
    if "/" in name or "\\" in name:
        return "subdirectories are not read by the analytics"
    refused = sorted(set(name) - NAME_CHARACTERS)
    if refused:
        shown = ", ".join(ascii(c) for c in refused[:5])
        return f"character {shown} not allowed: names hold only letters, digits and . _ -"
    if len(name) > MAX_NAME_BYTES:  # ASCII: one byte a character
        return f"name longer than {MAX_NAME_BYTES} bytes"
    if name.startswith(HIDDEN_PREFIXES):
        return "names starting with . or _ are hidden from the analytics"
    if name.endswith(COPYING_SUFFIX):
        return f"names ending in {COPYING_SUFFIX} are skipped by the analytics"
    return None


def safe_landing_name(text: str) -> str:
    """`text` turned into a landing name: each character outside letters, digits and `._-`
    becomes `-`, leading `.`/`_` are dropped, an over-long name is cut (keeping a short
    extension), a `._COPYING_` ending loses its last `_`; nothing left gives `unnamed`.

    Idempotent, not one-to-one (`a:b` and `a+b` both give `a-b`): keep names unique upstream.
    Scrapy's `%(time)s` (`2026-12-01T19-33-33+00-00`) needs it for its `+`.
    """
    name = "".join(c if c in NAME_CHARACTERS else "-" for c in text).lstrip(
        "".join(HIDDEN_PREFIXES)
    )
    if len(name) > MAX_NAME_BYTES:
        _, dot, extension = name.rpartition(".")
        kept = dot + extension if dot and len(extension) < 16 else ""
        name = name[: MAX_NAME_BYTES - len(kept)] + kept
    if name.endswith(COPYING_SUFFIX):
        name = name[:-1]
    return name or "unnamed"


# -- the analytics output -----------------------------------------------------------------------
SHIFTS_FILE: Final = "shifts.json"
PROGRESS_FILE: Final = "progress.json"


class WordRow(TypedDict):
    """One word of `shifts.json`: its shift, the listings with it and the sum of their prices."""

    word: str
    shift: float
    count: int
    sum: float


class UnreadableFile(TypedDict):
    """A landed file Spark could not read (skipped): its name, why, and the micro-batch."""

    name: str
    reason: str
    batch_id: int


class ShiftsDocument(TypedDict):
    """`shifts.json`, rewritten atomically after every micro-batch (words sorted by shift).

    Strict JSON: every number is finite (`avg_price` is null before the first listing).
    `files_unreadable` counts every file skipped since the checkpoint began; `unreadable_files`
    names the last UNREADABLE_KEEP of them, oldest first.
    """

    batch_id: int
    updated_at: str
    listings: int
    bad_records: int
    files_unreadable: int
    unreadable_files: list[UnreadableFile]
    avg_price: float | None
    words: list[WordRow]


UNREADABLE_KEEP: Final = 100


class ProgressEntry(TypedDict):
    """One entry of `progress.json` (a list, the last 1,000 micro-batches)."""

    batch_id: int
    updated_at: str
    listings: int
    files_unreadable: int


# -- events other processes read (the `event` field of a JSON log line) -------------------------
class Events:
    """Event names that are contracts: the demo's live view and tests read them."""

    # crawl-master
    PROGRESS: Final = "progress"
    RUN_SUMMARY: Final = "run_summary"
    SITE_SLOWED: Final = "site_slowed"  # and SITE_DOWN, SITE_UP below, each with `domain`
    SITE_GIVEN_UP: Final = "site_given_up"
    # monitor
    NODE_STATUS: Final = "node_status"
    NODE_UNREACHABLE: Final = "node_unreachable"
    NODE_RECOVERED: Final = "node_recovered"
    NODE_DOWN: Final = "node_down"
    JOB_VANISHED: Final = "job_vanished"
    CLUSTER_STATUS: Final = "cluster_status"
    CRAWL_FINISHED: Final = "crawl_finished"
    CRAWL_FAILED: Final = "crawl_failed"
    SITE_DOWN: Final = "site_down"  # crawl-master held a site fleet-wide (its metrics said so)
    SITE_UP: Final = "site_up"
    WEB_CONSOLE: Final = "web_console"  # the console's `url`
    # ftpsink
    LANDED: Final = "landed"


# What the monitor pushes to webhooks and lists as notable on its page.
ALERT_EVENTS: Final = frozenset(
    {
        Events.NODE_DOWN,
        Events.NODE_RECOVERED,
        Events.JOB_VANISHED,
        Events.CRAWL_FINISHED,
        Events.CRAWL_FAILED,
        Events.SITE_DOWN,
        Events.SITE_UP,
    }
)
