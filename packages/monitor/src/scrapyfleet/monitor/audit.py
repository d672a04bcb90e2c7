"""The audit log: every control action (and every refused attempt at one) with who, what, when
and the result, in the state database and as an `audit` log event."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import structlog

from scrapyfleet.monitor.roles import Principal
from scrapyfleet.monitor.store import Store

SHOWN = 200  # entries an API listing returns at most

log = structlog.get_logger("scrapyfleet.monitor.audit")


class Audit:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def record(self, who: Principal, action: str, target: str, result: str, **detail: Any) -> None:
        """One entry; `result` is "ok", "refused: why" or "failed: why"."""
        log.info("audit", who=who.name, role=who.role, action=action, target=target,
                 result=result, **detail)  # fmt: skip
        self.store.write(
            "INSERT INTO audit (t, who, role, action, target, result, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.clock(), who.name, who.role, action, target, result,
             json.dumps(detail, default=str, allow_nan=False)),
        )  # fmt: skip

    def entries(self, limit: int = SHOWN) -> list[dict[str, Any]]:
        """The newest entries first."""
        rows = self.store.rows("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (min(limit, SHOWN),))
        for row in rows:
            row["time"], row["detail"] = row.pop("t"), json.loads(row["detail"])
        return rows
