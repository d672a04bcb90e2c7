"""Atomic writes: the old contents or the new, never a partial file, no temporary left behind."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapyfleet.core.files import PRIVATE, write_json_atomic, write_text_atomic


def test_write_json_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "shifts.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2, "word": "café"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": 2, "word": "café"}
    assert [p.name for p in tmp_path.iterdir()] == ["shifts.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "shifts.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    for poison in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="JSON compliant"):
            write_json_atomic(target, {"a": [1.0, poison]})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["shifts.json"]


def test_private_mode_and_indented_json(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_json_atomic(target, {"a": [1]}, indent=2, mode=PRIVATE)
    assert target.read_text() == '{\n  "a": [\n    1\n  ]\n}\n'
    assert target.stat().st_mode & 0o777 == 0o600
    write_text_atomic(target, "x")
    assert target.read_text() == "x"


def test_lines_are_written_as_they_come_and_a_failure_midway_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "failed.jl"
    write_text_atomic(target, (f"{n}\n" for n in range(3)))
    assert target.read_text() == "0\n1\n2\n"

    def broken() -> Iterator[str]:
        yield "half\n"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, broken())
    assert target.read_text() == "0\n1\n2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["failed.jl"]
