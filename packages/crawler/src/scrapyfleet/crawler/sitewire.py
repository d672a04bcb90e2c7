"""What a job and the master say about each site with a lease renewal (docs/architecture.md,
"Site health and the domain budget").

A renewal's body is `{"sites": {DOMAIN: SiteCounts}}`: how the domain answered this job since its
last renewal. The reply (and a batch grant) carries `{"sites": {DOMAIN: SiteOrder}}`: whether to
hold the domain, whether this job may send one probe, and its share of the fleet's budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

Probe = Literal["ok", "failed", "pending"]
PROBES: tuple[Probe, ...] = ("ok", "failed", "pending")
MAX_DOMAINS = 1000  # domains in one renewal: a job crawls few, a report of more is malformed


def _count(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be an integer >= 0")
    return value


def _seconds(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a number >= 0")
    return float(value)


@dataclass(frozen=True, slots=True)
class SiteCounts:
    """A job's word on one domain: answers ok and transient failures since its last renewal,
    requests in flight and held now, the longest `Retry-After` it was given (None: none) and how
    the probe it was granted went (None: it holds none)."""

    ok: int = 0
    failed: int = 0
    inflight: int = 0
    retry_after: float | None = None
    probe: Probe | None = None
    held: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, obj: object) -> SiteCounts:
        if not isinstance(obj, dict):
            raise ValueError("a site's counts must be a JSON object")
        probe = obj.get("probe")
        if probe is not None and probe not in PROBES:
            raise ValueError(f"probe must be one of {PROBES}")
        return cls(_count(obj, "ok"), _count(obj, "failed"), _count(obj, "inflight"),
                   _seconds(obj, "retry_after"), probe, _count(obj, "held"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class SiteOrder:
    """The master's word on one domain to one job: hold its requests for `hold` seconds (0: go),
    send one probe now, at most `concurrency` requests in flight (None: no fleet budget), at
    least `interval` seconds between requests, or give up (the site was down too long)."""

    hold: float = 0.0
    probe: bool = False
    concurrency: int | None = None
    interval: float = 0.0
    give_up: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, obj: object) -> SiteOrder:
        if not isinstance(obj, dict):
            raise ValueError("a site's order must be a JSON object")
        concurrency = obj.get("concurrency")
        if concurrency is not None:
            concurrency = _count(obj, "concurrency")
        probe, give_up = obj.get("probe", False), obj.get("give_up", False)
        if not isinstance(probe, bool) or not isinstance(give_up, bool):
            raise ValueError("probe and give_up must be booleans")
        hold, interval = _seconds(obj, "hold") or 0.0, _seconds(obj, "interval") or 0.0
        return cls(hold, probe, concurrency, interval, give_up)


T = TypeVar("T", SiteCounts, SiteOrder)


def parse_sites(obj: object, kind: type[T]) -> dict[str, T]:
    """`{"sites": {...}}`'s entries as `kind` (an absent `sites`: none); ValueError if malformed."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ValueError("the body must be a JSON object")
    sites = obj.get("sites", {})
    if not isinstance(sites, dict) or len(sites) > MAX_DOMAINS:
        raise ValueError(f"sites must be an object of at most {MAX_DOMAINS} domains")
    return {str(domain): kind.from_json(value) for domain, value in sites.items()}
