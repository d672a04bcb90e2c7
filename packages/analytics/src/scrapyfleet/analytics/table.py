"""The running word table the driver keeps between micro-batches, saved in the checkpoint.

Only a micro-batch's changes leave the JVM (`words.batch_changes`); the driver adds them to this
table and saves it (atomically, in CHECKPOINT/TABLE_FILE) before the micro-batch is committed.
A micro-batch Spark replays after a restart (run, not yet committed) is recognised by its id and
not added twice. The table also counts the files Spark could not read, and names the latest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scrapyfleet.analytics.shifts import Totals, WordTotal
from scrapyfleet.analytics.words import BAD, LISTING, WORD
from scrapyfleet.core.contracts import UNREADABLE_KEEP, UnreadableFile
from scrapyfleet.core.files import write_json_atomic

TABLE_FILE = "boostwords-table.json"


class TableError(Exception):
    """The saved table does not match the checkpoint (lost, stale, or unreadable)."""


@dataclass(slots=True)
class RunningTable:
    """Totals over the micro-batches up to `batch_id` (-1: none yet)."""

    batch_id: int = -1
    listings: int = 0
    price_sum: float = 0.0
    bad_records: int = 0
    words: dict[str, tuple[int, float]] = field(default_factory=dict)
    files_unreadable: int = 0
    unreadable: list[UnreadableFile] = field(default_factory=list)  # the last UNREADABLE_KEEP

    def apply(
        self,
        batch_id: int,
        rows: Iterable[tuple[str, str, int, float]],
        unreadable: Iterable[tuple[str, str]] = (),
    ) -> bool:
        """Add micro-batch `batch_id`'s `batch_changes` rows and its unreadable files (name,
        reason); False if it was already added."""
        if batch_id <= self.batch_id:
            return False
        for name, reason in unreadable:
            self.files_unreadable += 1
            self.unreadable.append(UnreadableFile(name=name, reason=reason, batch_id=batch_id))
        del self.unreadable[:-UNREADABLE_KEEP]
        for kind, word, count, total in rows:
            if kind == WORD:
                had_count, had_sum = self.words.get(word, (0, 0.0))
                self.words[word] = (had_count + int(count), had_sum + float(total))
            elif kind == LISTING:
                self.listings += int(count)
                self.price_sum += float(total)
            elif kind == BAD:
                self.bad_records = int(count)  # a running count, not a change
            else:
                raise ValueError(f"unknown entry kind {kind!r}")
        self.batch_id = batch_id
        return True

    @property
    def totals(self) -> Totals:
        return Totals(self.listings, self.price_sum, self.bad_records, self.files_unreadable)

    def per_word(self) -> list[WordTotal]:
        return [WordTotal(word, count, total) for word, (count, total) in self.words.items()]

    def save(self, checkpoint: Path) -> None:
        write_json_atomic(
            checkpoint / TABLE_FILE,
            {
                "batch_id": self.batch_id,
                "listings": self.listings,
                "price_sum": self.price_sum,
                "bad_records": self.bad_records,
                "words": [[word, count, total] for word, (count, total) in self.words.items()],
                "files_unreadable": self.files_unreadable,
                "unreadable": self.unreadable,
            },
        )

    @classmethod
    def load(cls, checkpoint: Path) -> RunningTable:
        """The saved table, or an empty one for a new checkpoint; TableError if they disagree."""
        path = checkpoint / TABLE_FILE
        committed = last_commit(checkpoint)
        if not path.exists():
            if committed >= 0:
                raise TableError(f"{path} is missing but micro-batch {committed} is committed")
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            table = cls(
                int(data["batch_id"]),
                int(data["listings"]),
                float(data["price_sum"]),
                int(data["bad_records"]),
                {str(w): (int(c), float(s)) for w, c, s in data["words"]},
                int(data.get("files_unreadable", 0)),  # absent from tables of older versions
                [
                    UnreadableFile(
                        name=str(f["name"]), reason=str(f["reason"]), batch_id=int(f["batch_id"])
                    )
                    for f in data.get("unreadable", [])
                ],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TableError(f"{path} is unreadable: {exc}") from exc
        if not all(
            math.isfinite(s) for s in (table.price_sum, *(s for _, s in table.words.values()))
        ):
            raise TableError(
                f"{path} holds a non-finite price sum (saved before prices were capped by "
                "--max-price): start over with a new --checkpoint"
            )
        if table.batch_id < committed:
            raise TableError(
                f"{path} holds micro-batch {table.batch_id} but {committed} is committed"
            )
        return table


def last_commit(checkpoint: Path) -> int:
    """The last micro-batch id in the checkpoint's commit log (-1: none)."""
    commits = checkpoint / "commits"
    ids = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
    return max(ids, default=-1)
