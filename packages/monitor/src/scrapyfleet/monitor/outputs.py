"""The files the console counts and reads: ftpsink's landed `.jl` files (`--items DIR`) and
the Spark job's `shifts.json` and `progress.json` (`--analytics-output DIR`,
`scrapyfleet.core.contracts`).

A file is read up to `httpread.MAX_ANSWER` bytes, as JSON nested at most `safejson.MAX_DEPTH`
deep, its non-finite numbers (`NaN`, `Infinity`) read as missing and counted
(`Analysis.non_finite`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scrapyfleet.core import safejson
from scrapyfleet.core.contracts import PROGRESS_FILE, SHIFTS_FILE, landing_name_problem
from scrapyfleet.core.httpread import MAX_ANSWER, size
from scrapyfleet.monitor.readings import Analysis, Landed, SourceError

LANDED_SUFFIX = ".jl"


def scan_landed(folder: Path) -> Landed:
    """Count the landed `.jl` files directly in `folder` (names Spark reads) and their bytes."""
    files = size = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith(LANDED_SUFFIX) or landing_name_problem(entry.name):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_size
                        files += 1
                except FileNotFoundError:
                    continue
    except OSError as e:
        raise SourceError(f"{folder}: {e.strerror or e}") from None
    return Landed(files, size)


def _load_json(path: Path, non_finite: list[str]) -> Any:
    try:
        with path.open("rb") as f:  # a file too large is not read at all
            fits = os.fstat(f.fileno()).st_size <= MAX_ANSWER
            data = f.read(MAX_ANSWER + 1) if fits else b""
    except FileNotFoundError:
        raise SourceError(f"no {path.name} yet") from None
    except OSError as e:
        raise SourceError(f"{path.name}: {e.strerror or e}") from None
    if not fits or len(data) > MAX_ANSWER:
        raise SourceError(f"{path.name} is over {size(MAX_ANSWER)}")
    try:
        return safejson.loads(data, non_finite=non_finite.append)
    except safejson.JSONRefused as e:
        raise SourceError(f"{path.name}: {e.reason}") from None


def read_analysis(folder: Path) -> Analysis:
    """`shifts.json` and `progress.json` of the analytics output (both written atomically)."""
    non_finite: list[str] = []
    shifts = _load_json(folder / SHIFTS_FILE, non_finite)
    words = shifts.get("words") if isinstance(shifts, dict) else None
    if not isinstance(words, list) or not all(
        isinstance(w, dict) and isinstance(w.get("word"), str) for w in words
    ):
        raise SourceError(f"{SHIFTS_FILE} has no list of words")
    try:
        progress = _load_json(folder / PROGRESS_FILE, non_finite)
    except SourceError:
        progress = []  # the chart waits for it; the words do not
    entries = (
        [p for p in progress if isinstance(p, dict) and isinstance(p.get("listings"), int)]
        if isinstance(progress, list)
        else []
    )
    return Analysis(shifts, entries, len(non_finite))  # type: ignore[arg-type]
