"""The worker report: what a worker tells the master about its batch when it closes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """Outcome of one attempt of one batch, as the worker saw it."""

    job: str
    node: str
    attempt: int
    items: int
    pages: int
    finish_reason: str
    feed_ok: bool

    @property
    def succeeded(self) -> bool:
        return self.finish_reason == "finished" and self.feed_ok

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: object) -> WorkerReport:
        """Validate a decoded JSON body; ValueError says what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("report must be a JSON object")
        types: dict[str, type | tuple[type, ...]] = {
            "job": str, "node": str, "attempt": int, "items": int, "pages": int,
            "finish_reason": str, "feed_ok": bool,
        }  # fmt: skip
        for name, kind in types.items():
            value = obj.get(name)
            # bool is an int: keep counts strictly numeric and flags strictly boolean.
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"field {name!r} must be {getattr(kind, '__name__', kind)}")
            if isinstance(value, int) and value < 0:
                raise ValueError(f"field {name!r} must be >= 0")
        return cls(**{name: obj[name] for name in types})
