"""Hostile input on the real streaming query: values that would poison the table, and files
Spark cannot read placed directly in the landing directory (also across a restart)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOOD = [
    json.dumps({"url": f"http://site/g{i}", "title": f"Flat {word}", "price": 1000 + i})
    for i, word in enumerate(["garden", "loft", "studio", "garden", "loft", "quiet"] * 5)
]
WORDS_64 = " ".join(f"w{i}" for i in range(64))  # --max-title-words: 64 is allowed, 65 is not
HUGE_TITLE = " ".join(f"w{i}" for i in range(120_000))  # ~0.9 MB: fits --max-line-bytes
POISON = [
    *[json.dumps({"url": f"http://site/big{i}", "title": "Big", "price": 1.7e308}) for i in (1, 2)],
    json.dumps({"url": "http://site/over", "title": "Over", "price": 1e9 + 1}),  # > --max-price
    json.dumps({"url": "http://site/inf", "title": "Inf", "price": "inf"}),
    json.dumps({"url": "http://site/infinity", "title": "Inf", "price": "Infinity"}),
    json.dumps({"url": "http://site/nan", "title": "NaN", "price": "nan"}),
    '{"url": "http://site/nan-token", "title": "NaN", "price": NaN}',  # Spark's parser takes it
    json.dumps({"url": "http://site/minus", "title": "Minus", "price": -5}),
    json.dumps({"url": "http://site/minus-text", "title": "Minus", "price": "-5"}),
    json.dumps({"url": "http://site/pound-minus", "title": "Minus", "price": "£-5"}),
    json.dumps({"url": "http://site/minus-pound", "title": "Minus", "price": ["-£5.00pw"]}),
    json.dumps({"url": "http://site/65", "title": WORDS_64 + " w64", "price": 1000}),
    json.dumps({"url": "http://site/huge-title", "title": HUGE_TITLE, "price": 1000}),
]


def _finite_numbers(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return True


def test_poison_values_are_bad_records(
    make_job: Callable[..., Any], tmp_path: Path, strict_json: Callable[[str], Any]
) -> None:
    job = make_job(tmp_path)
    job.start()
    try:
        limit = json.dumps({"url": "http://site/64", "title": WORDS_64, "price": 1e9})
        doc = job.land("b1_easy_t.jl", [*GOOD[:10], *POISON, limit, *GOOD[10:]])
    finally:
        job.stop()
    assert (doc["listings"], doc["bad_records"]) == (len(GOOD) + 1, len(POISON))
    assert doc["avg_price"] == (sum(1000 + i for i in range(len(GOOD))) + 1e9) / (len(GOOD) + 1)
    words = {row["word"] for row in doc["words"]}
    assert "w63" in words and "w64" not in words and "big" not in words and "minus" not in words
    for path in (
        job.output / "shifts.json",
        job.output / "progress.json",
        job.checkpoint / "boostwords-table.json",
    ):
        assert _finite_numbers(strict_json(path.read_text(encoding="utf-8"))), path


def test_unreadable_files_are_skipped_counted_named_and_survive_a_restart(
    make_job: Callable[..., Any], tmp_path: Path, capsys: Any
) -> None:
    """`x:y.jl` (Hadoop cannot open it) and a corrupt `.gz` among good files, garbage bytes in a
    `.jl` (readable: its lines are bad records); the stream goes on, also after a restart."""
    job = make_job(tmp_path)
    job.start()
    try:
        job.land("a_easy_t.jl", GOOD[:10])
        job.drop("x:y.jl", GOOD[10:15])
        job.drop("corrupt_easy_t.jl.gz", ["not gzip data"])
        (job.items / "garbage_easy_t.jl").write_bytes(b"\xff\xfe\x80 not utf-8\n\xc3(\n")
        doc = job.land("b_easy_t.jl", GOOD[15:20])
    finally:
        job.stop()
    assert (doc["listings"], doc["bad_records"]) == (15, 2)
    assert doc["files_unreadable"] == 2
    named = {entry["name"]: entry for entry in doc["unreadable_files"]}
    assert named.keys() == {"x:y.jl", "corrupt_easy_t.jl.gz"}
    assert "':'" in named["x:y.jl"]["reason"] and "gzip" in named["corrupt_easy_t.jl.gz"]["reason"]
    assert "files_unreadable" in capsys.readouterr().out
    job.start()  # the same checkpoint: nothing fails again, nothing is counted twice
    try:
        doc = job.land("c_easy_t.jl", GOOD[20:])
        assert job.query is not None and job.query.isActive
    finally:
        job.stop()
    assert (doc["listings"], doc["bad_records"], doc["files_unreadable"]) == (25, 2, 2)
    assert len(doc["unreadable_files"]) == 2
    progress = json.loads((job.output / "progress.json").read_text(encoding="utf-8"))
    assert progress[-1]["files_unreadable"] == 2
