"""The shift arithmetic and ranking (pure Python)."""

from __future__ import annotations

import pytest

from scrapyfleet.analytics.shifts import (
    Totals,
    WordShift,
    WordTotal,
    extremes,
    shifts,
)


def test_jacuzzi_example_is_exact() -> None:
    totals = Totals(listings=61, price_sum=1300 + 60 * 995)
    table = shifts(totals, [WordTotal("jacuzzi", 1, 1300.0), WordTotal("flat", 61, 61000.0)])
    assert [row.word for row in table] == ["jacuzzi"]  # "flat" is in every listing: no shift
    assert table[0].shift == pytest.approx(0.305, abs=1e-12)
    assert totals.avg_price == 1000.0


def test_sorted_by_shift_descending() -> None:
    totals = Totals(listings=4, price_sum=10.0)
    table = shifts(
        totals, [WordTotal("cheap", 1, 1.0), WordTotal("dear", 1, 4.0), WordTotal("mid", 2, 5.0)]
    )
    assert [row.word for row in table] == ["dear", "mid", "cheap"]
    assert table[1].shift == pytest.approx(0.0)


def test_no_listings_no_table() -> None:
    assert shifts(Totals(bad_records=3), []) == []
    assert Totals().avg_price is None


def test_extremes_respect_min_count() -> None:
    table = [
        WordShift("a", 0.5, 1, 1.0),
        WordShift("b", 0.2, 9, 1.0),
        WordShift("c", -0.1, 9, 1.0),
        WordShift("d", -0.4, 9, 1.0),
    ]
    best, worst = extremes(table, top=2, min_count=5)
    assert [r.word for r in best] == ["b", "c"]
    assert [r.word for r in worst] == ["d", "c"]
    assert extremes(table, top=0, min_count=0) == ([], [])
