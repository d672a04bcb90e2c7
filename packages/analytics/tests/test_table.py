"""The driver's running table: changes added once per micro-batch, saved with the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrapyfleet.analytics import table as table_module
from scrapyfleet.analytics.shifts import Totals, WordTotal
from scrapyfleet.analytics.table import TABLE_FILE, RunningTable, TableError

BATCH0 = [("listing", "", 2, 30.0), ("word", "flat", 2, 30.0), ("bad", "", 1, 0.0)]
BATCH1 = [("listing", "", 1, 5.0), ("word", "flat", 1, 5.0), ("word", "loft", 1, 5.0)]


def test_changes_add_up_and_bad_count_is_running() -> None:
    table = RunningTable()
    assert table.apply(0, BATCH0)
    assert table.apply(1, [*BATCH1, ("bad", "", 3, 0.0)])
    assert table.totals == Totals(listings=3, price_sum=35.0, bad_records=3)
    assert sorted(table.per_word(), key=lambda w: w.word) == [
        WordTotal("flat", 3, 35.0),
        WordTotal("loft", 1, 5.0),
    ]
    with pytest.raises(ValueError, match="unknown"):
        table.apply(2, [("what", "", 1, 1.0)])


def test_replayed_batch_is_not_added_twice(tmp_path: Path) -> None:
    table = RunningTable()
    table.apply(0, BATCH0, [("x:y.jl", "a name with ':'")])
    table.save(tmp_path)
    loaded = RunningTable.load(tmp_path)
    assert loaded == table
    assert not loaded.apply(0, BATCH0, [("x:y.jl", "a name with ':'")])  # replayed on restart
    assert loaded.totals == Totals(2, 30.0, 1, files_unreadable=1)
    assert loaded.unreadable == [{"name": "x:y.jl", "reason": "a name with ':'", "batch_id": 0}]


def test_unreadable_files_counted_all_and_named_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module, "UNREADABLE_KEEP", 2)
    table = RunningTable()
    table.apply(0, [], [("a.gz", "gzip"), ("b.gz", "gzip")])
    table.apply(1, [], [("c.gz", "gzip")])
    assert table.files_unreadable == 3
    assert [(f["name"], f["batch_id"]) for f in table.unreadable] == [("b.gz", 0), ("c.gz", 1)]


def test_table_of_an_older_version_loads(tmp_path: Path) -> None:
    old = {"batch_id": 0, "listings": 2, "price_sum": 30.0, "bad_records": 1, "words": []}
    (tmp_path / TABLE_FILE).write_text(json.dumps(old))
    assert RunningTable.load(tmp_path).totals == Totals(2, 30.0, 1, files_unreadable=0)


@pytest.mark.parametrize("poison", ['"price_sum": Infinity', '"price_sum": NaN'])
def test_poisoned_table_is_refused_with_the_way_out(tmp_path: Path, poison: str) -> None:
    """A table an older version saved with an infinite sum: a named error, not NaN shifts."""
    text = f'{{"batch_id": 0, "listings": 2, {poison}, "bad_records": 0, "words": []}}'
    (tmp_path / TABLE_FILE).write_text(text)
    with pytest.raises(TableError, match=r"non-finite .* new --checkpoint"):
        RunningTable.load(tmp_path)


def test_new_checkpoint_gives_empty_table(tmp_path: Path) -> None:
    assert RunningTable.load(tmp_path) == RunningTable()


@pytest.mark.parametrize("saved", [None, 0, "garbage"])
def test_table_that_does_not_match_the_commits(tmp_path: Path, saved: int | str | None) -> None:
    (tmp_path / "commits").mkdir()
    (tmp_path / "commits" / "1").write_text("v1\n{}")
    if isinstance(saved, int):
        table = RunningTable()
        table.apply(saved, BATCH0)
        table.save(tmp_path)
    elif saved is not None:
        (tmp_path / TABLE_FILE).write_text(saved)
    with pytest.raises(TableError):
        RunningTable.load(tmp_path)
