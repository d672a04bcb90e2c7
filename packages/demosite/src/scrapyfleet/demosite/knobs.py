"""The benchmark site's knobs, given as path segments: `/ti:5000/rr:0.125/benchmark/index`.

Names follow the book's speed spider: `ti` total items, `dp` detail links per index page,
`id` items per detail page, `ds` padding bytes per detail page, `ip` next-index links per index
page, `rr` response time of every endpoint, `ir`/`dr`/`ar` of the index/detail/api endpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, TypeVar

N = TypeVar("N", int, float)


class KnobError(ValueError):
    """A malformed knob segment; the message is a one-line reason."""


@dataclass(frozen=True, slots=True)
class Knobs:
    """Structure and response times of the benchmark site (the book's defaults)."""

    total_items: int = 1000
    details_per_index: int = 20
    items_per_detail: int = 1
    detail_extra_size: int = 0
    index_pointahead: int = 1
    index_delay: float = 0.5
    detail_delay: float = 1.0
    api_delay: float = 3.0

    @property
    def index_pages(self) -> int:
        """Index pages (numbered from 1), each worth `dp x id` items."""
        return -(-self.total_items // (self.details_per_index * self.items_per_detail))


# knob -> (field, lowest, highest); bounds keep one request's work and wait bounded.
INT_KNOBS = {
    "ti": ("total_items", 1, 10**9),
    "dp": ("details_per_index", 1, 10_000),
    "id": ("items_per_detail", 1, 10_000),
    "ds": ("detail_extra_size", 0, 10_000_000),
    "ip": ("index_pointahead", 0, 100),
}
DELAY_KNOBS = {"ir": "index_delay", "dr": "detail_delay", "ar": "api_delay"}
MAX_DELAY = 60.0


@lru_cache(maxsize=256)
def parse_knobs(path: str) -> Knobs:
    """Knobs from the `name:value/` segments before `benchmark`; KnobError if malformed."""
    values: dict[str, Any] = {}
    every_delay: float | None = None
    seen: set[str] = set()
    for segment in filter(None, path.split("/")):
        name, sep, raw = segment.partition(":")
        if not sep:
            raise KnobError(f"knob segment {shown(segment)} is not name:value")
        if name in seen:
            raise KnobError(f"knob {shown(name)} given twice")
        seen.add(name)
        if name in INT_KNOBS:
            field, low, high = INT_KNOBS[name]
            values[field] = _bounded(name, _int(name, raw), low, high)
        elif name in DELAY_KNOBS:
            values[DELAY_KNOBS[name]] = _delay(name, raw)
        elif name == "rr":
            every_delay = _delay(name, raw)
        else:
            raise KnobError(f"unknown knob {shown(name)} (known: {', '.join(_known())})")
    if every_delay is not None:
        for field in DELAY_KNOBS.values():
            values.setdefault(field, every_delay)
    return replace(Knobs(), **values)


def shown(text: str, limit: int = 40) -> str:
    """`text` quoted for a one-line error message, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _known() -> list[str]:
    return [*INT_KNOBS, "rr", *DELAY_KNOBS]


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise KnobError(f"knob {shown(name)} needs an integer, got {shown(raw)}") from None


def _delay(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise KnobError(f"knob {shown(name)} needs a number of seconds, got {shown(raw)}") from None
    if not math.isfinite(value):
        raise KnobError(f"knob {shown(name)} needs a finite number of seconds, got {shown(raw)}")
    return _bounded(name, value, 0.0, MAX_DELAY)


def _bounded(name: str, value: N, low: N, high: N) -> N:
    if not low <= value <= high:
        raise KnobError(f"knob {shown(name)} must be within {low}..{high}, got {shown(str(value))}")
    return value
