"""Output files: atomic replacement, replay-safe progress history, terminal view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrapyfleet.analytics import report
from scrapyfleet.analytics.report import record_progress, render
from scrapyfleet.analytics.shifts import Totals, WordShift


def test_progress_replayed_batch_replaces_entry(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    for batch_id, listings in [(0, 10), (1, 20), (2, 30), (1, 21)]:
        record_progress(path, batch_id, f"t{batch_id}", Totals(listings, files_unreadable=1))
    history = json.loads(path.read_text())
    assert [(e["batch_id"], e["listings"]) for e in history] == [(0, 10), (1, 21)]
    assert history[-1]["files_unreadable"] == 1


def test_progress_keeps_last_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "PROGRESS_KEEP", 3)
    path = tmp_path / "progress.json"
    for batch_id in range(5):
        record_progress(path, batch_id, "t", Totals(batch_id))
    assert [e["batch_id"] for e in json.loads(path.read_text())] == [2, 3, 4]


def test_render_shows_counts_and_both_ends() -> None:
    table = [
        WordShift("jacuzzi", 0.305, 7, 1.0),
        WordShift("rare", 0.2, 1, 1.0),
        WordShift("studio", -0.25, 9, 1.0),
    ]
    text = render(3, Totals(61, 61000.0, 2), table, top=1, min_count=5)
    assert "batch 3: 61 listings, 2 bad records, average price 1,000.00" in text
    last = text.splitlines()[-1]
    assert "jacuzzi" in last and "+30.50%" in last and "studio" in last and "-25.00%" in last
    assert "rare" not in text
    text = render(3, Totals(61, 61000.0, 2, files_unreadable=1), table, top=1, min_count=5)
    assert "2 bad records, 1 unreadable files, average" in text
