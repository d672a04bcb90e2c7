"""The speed lab's Scrapy settings and the demo site's path knobs they map to."""

from __future__ import annotations

from typing import Any

from scrapyfleet.core.contracts import SITE_URL

# Scrapy setting -> the demo site's path knob (`/ti:5000/rr:0.125/benchmark/...`).
SETTING_TO_KNOB = {
    "SPEED_TOTAL_ITEMS": "ti",
    "SPEED_DETAILS_PER_INDEX_PAGE": "dp",
    "SPEED_ITEMS_PER_DETAIL": "id",
    "SPEED_DETAIL_EXTRA_SIZE": "ds",
    "SPEED_INDEX_POINTAHEAD": "ip",
    "SPEED_T_RESPONSE": "rr",
    "SPEED_INDEX_T_RESPONSE": "ir",
    "SPEED_DETAIL_T_RESPONSE": "dr",
    "SPEED_API_T_RESPONSE": "ar",
}

# Defaults shared by the spider and the site (the book's).
TOTAL_ITEMS = 1000
DETAILS_PER_INDEX_PAGE = 20
ITEMS_PER_DETAIL = 1


def benchmark_url(settings: Any) -> str:
    """`<SPEED_SITE>/<knob>:<value>.../benchmark/` for every knob that is set."""
    site = str(settings.get("SPEED_SITE") or SITE_URL).rstrip("/")
    knobs = "".join(
        f"/{knob}:{settings.get(name)}"
        for name, knob in SETTING_TO_KNOB.items()
        if settings.get(name) not in (None, "")
    )
    return f"{site}{knobs}/benchmark/"


def index_pages(total_items: int, details_per_index: int, items_per_detail: int) -> int:
    """How many index pages the site has (rounded up)."""
    page_worth = details_per_index * items_per_detail
    return -(-total_items // page_worth)
