"""What each micro-batch leaves behind: `shifts.json`, `progress.json` and the terminal view."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scrapyfleet.analytics.shifts import Totals, WordShift, extremes

SHIFTS_FILE = "shifts.json"
PROGRESS_FILE = "progress.json"
PROGRESS_KEEP = 1000
FILE_MODE = 0o644  # mkstemp creates 0600; readers (the demo) may run as other users


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as JSON to a hidden temporary file beside `path`, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shifts_document(
    batch_id: int, updated_at: str, totals: Totals, table: list[WordShift]
) -> dict[str, Any]:
    """The `shifts.json` contents (words present in every listing are left out of `words`)."""
    return {
        "batch_id": batch_id,
        "updated_at": updated_at,
        "listings": totals.listings,
        "bad_records": totals.bad_records,
        "avg_price": totals.avg_price,
        "words": [asdict(row) for row in table],
    }


def record_progress(path: Path, batch_id: int, updated_at: str, listings: int) -> None:
    """Append (batch_id, updated_at, listings) to the history in `path`, keeping the last entries.

    Entries of this batch or later are replaced first, so a replayed batch does not repeat.
    """
    history = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    history = [entry for entry in history if entry["batch_id"] < batch_id]
    history.append({"batch_id": batch_id, "updated_at": updated_at, "listings": listings})
    write_json_atomic(path, history[-PROGRESS_KEEP:])


def render(batch_id: int, totals: Totals, table: list[WordShift], top: int, min_count: int) -> str:
    """The book's terminal view: the top and bottom words with their shift and listings."""
    best, worst = extremes(table, top, min_count)
    avg = f"{totals.avg_price:,.2f}" if totals.avg_price is not None else "-"
    lines = [
        f"batch {batch_id}: {totals.listings:,} listings, {totals.bad_records:,} bad records, "
        f"average price {avg}",
        f"{'top (>= ' + str(min_count) + ' listings)':<40}  bottom",
    ]
    for i in range(max(len(best), len(worst))):
        left = _cell(best[i]) if i < len(best) else ""
        right = _cell(worst[i]) if i < len(worst) else ""
        lines.append(f"{left:<40}  {right}")
    return "\n".join(lines)


def _cell(row: WordShift) -> str:
    return f"{row.word[:18]:<18} {row.shift:+8.2%} {row.count:>9,}"
