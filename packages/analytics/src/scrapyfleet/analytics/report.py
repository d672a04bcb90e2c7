"""What each micro-batch leaves behind: `shifts.json`, `progress.json` and the terminal view."""

from __future__ import annotations

import json
from pathlib import Path

from scrapyfleet.analytics.shifts import Totals, WordShift, extremes
from scrapyfleet.core.contracts import ProgressEntry, ShiftsDocument, UnreadableFile, WordRow
from scrapyfleet.core.files import write_json_atomic

PROGRESS_KEEP = 1000


def shifts_document(
    batch_id: int,
    updated_at: str,
    totals: Totals,
    table: list[WordShift],
    unreadable: list[UnreadableFile],
) -> ShiftsDocument:
    """The `shifts.json` contents (words present in every listing are left out of `words`)."""
    return {
        "batch_id": batch_id,
        "updated_at": updated_at,
        "listings": totals.listings,
        "bad_records": totals.bad_records,
        "files_unreadable": totals.files_unreadable,
        "unreadable_files": unreadable,
        "avg_price": totals.avg_price,
        "words": [WordRow(word=r.word, shift=r.shift, count=r.count, sum=r.sum) for r in table],
    }


def record_progress(path: Path, batch_id: int, updated_at: str, totals: Totals) -> None:
    """Append this batch's entry to the history in `path`, keeping the last entries.

    Entries of this batch or later are replaced first, so a replayed batch does not repeat.
    """
    history: list[ProgressEntry] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    )
    history = [entry for entry in history if entry["batch_id"] < batch_id]
    history.append(
        ProgressEntry(
            batch_id=batch_id,
            updated_at=updated_at,
            listings=totals.listings,
            files_unreadable=totals.files_unreadable,
        )
    )
    write_json_atomic(path, history[-PROGRESS_KEEP:])


def render(batch_id: int, totals: Totals, table: list[WordShift], top: int, min_count: int) -> str:
    """The book's terminal view: the top and bottom words with their shift and listings."""
    best, worst = extremes(table, top, min_count)
    avg = f"{totals.avg_price:,.2f}" if totals.avg_price is not None else "-"
    unreadable = (
        f"{totals.files_unreadable:,} unreadable files, " if totals.files_unreadable else ""
    )
    lines = [
        f"batch {batch_id}: {totals.listings:,} listings, {totals.bad_records:,} bad records, "
        f"{unreadable}average price {avg}",
        f"{'top (>= ' + str(min_count) + ' listings)':<40}  bottom",
    ]
    for i in range(max(len(best), len(worst))):
        left = _cell(best[i]) if i < len(best) else ""
        right = _cell(worst[i]) if i < len(worst) else ""
        lines.append(f"{left:<40}  {right}")
    return "\n".join(lines)


def _cell(row: WordShift) -> str:
    return f"{row.word[:18]:<18} {row.shift:+8.2%} {row.count:>9,}"
