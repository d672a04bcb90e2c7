"""The shift of each word, from the running totals (plain Python: the table is small)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Totals:
    """Distinct listings counted, the sum of their prices, bad records and unreadable files."""

    listings: int = 0
    price_sum: float = 0.0
    bad_records: int = 0
    files_unreadable: int = 0

    @property
    def avg_price(self) -> float | None:
        return self.price_sum / self.listings if self.listings else None


@dataclass(frozen=True, slots=True)
class WordTotal:
    """Listings whose title has `word`, and the sum of their prices."""

    word: str
    count: int
    sum: float


@dataclass(frozen=True, slots=True)
class WordShift:
    word: str
    shift: float
    count: int
    sum: float


def shifts(totals: Totals, per_word: Iterable[WordTotal]) -> list[WordShift]:
    """`(avg price with w - avg price without w) / avg price of all`, by shift descending.

    A word in every listing has no listings without it: it has no shift and is left out.
    """
    n, s = totals.listings, totals.price_sum
    table = []
    for w in per_word:
        if w.count >= n:
            continue
        with_w = w.sum / w.count
        without_w = (s - w.sum) / (n - w.count)
        table.append(WordShift(w.word, (with_w - without_w) / (s / n), w.count, w.sum))
    table.sort(key=lambda row: (-row.shift, row.word))
    return table


def extremes(
    table: list[WordShift], top: int, min_count: int
) -> tuple[list[WordShift], list[WordShift]]:
    """The `top` highest and lowest shifts (lowest first) among words in >= `min_count` listings."""
    if top <= 0:
        return [], []
    ranked = [row for row in table if row.count >= min_count]
    return ranked[:top], ranked[::-1][:top]
