"""What one read of the console's sources gives: a `Reading` per source (a value, or why there
is none: "not configured" or a reason) and the figures each source holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from scrapyfleet.core.contracts import ProgressEntry, ShiftsDocument

T = TypeVar("T")
NOT_CONFIGURED = "not configured"


class SourceError(Exception):
    """A source could not be read; the message says why in a few words."""


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """One read of one source: `value`, or `problem` saying why there is none."""

    value: T | None = None
    problem: str | None = None

    @property
    def state(self) -> str:
        """ "ok", "off" (not configured) or "failed"."""
        if self.value is not None:
            return "ok"
        return "off" if self.problem == NOT_CONFIGURED else "failed"


@dataclass(frozen=True, slots=True)
class Crawl:
    """crawl-master's figures, as its metrics said them."""

    batches: dict[str, float]
    urls: dict[str, float]
    pages: float | None
    items: float | None
    attempts: float | None
    retries: float | None
    nodes: dict[str, float]
    started: float | None  # Unix time
    outcome: str | None  # None while the run goes on; "ok", "failed" (or "unknown") once ended
    sites_down: float | None = None  # sites whose circuit is open (crawl-master's site health)
    intake_open: float | None = None  # 1 while batches are still being made, 0 once all are


@dataclass(frozen=True, slots=True)
class Uploads:
    """ftpsink's upload counts by outcome and the bytes it landed."""

    uploads: dict[str, float]
    bytes: float | None


@dataclass(frozen=True, slots=True)
class Landed:
    """The landed `.jl` files of an items directory."""

    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """The Spark job's latest output; `non_finite`: how many numbers in it were not finite."""

    shifts: ShiftsDocument
    progress: list[ProgressEntry]
    non_finite: int = 0


@dataclass(frozen=True, slots=True)
class Readings:
    """Every source, read once."""

    crawl: Reading[Crawl] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    ftpsink: Reading[Uploads] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    items: Reading[Landed] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    analysis: Reading[Analysis] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
