"""Naming the files Spark skips: gone, a name Hadoop cannot open, damaged compressed data."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

from scrapyfleet.analytics.inputs import COLON, read_problem, skipped_files


def test_readable_files_have_no_problem(tmp_path: Path) -> None:
    (tmp_path / "a.jl").write_bytes(b"\xff\xfe garbage is readable: its lines are bad records\n")
    (tmp_path / "b.jl.gz").write_bytes(gzip.compress(b'{"url": "u"}\n' * 100))
    (tmp_path / "c.jl.bz2").write_bytes(bz2.compress(b'{"url": "u"}\n'))
    (tmp_path / "empty.jl").write_bytes(b"")
    assert [read_problem(path) for path in sorted(tmp_path.iterdir())] == [None] * 4


def test_gone_and_unreadable_are_named(tmp_path: Path) -> None:
    data = gzip.compress(b"line\n" * 10_000)
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    files = {
        "x:y.jl": b"{}\n",
        "not.jl.gz": b"not gzip",
        "cut.jl.gz": data[: len(data) // 2],
        "damaged.jl.gz": bytes(damaged),
        "not.jl.bz2": b"not bzip2",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    skipped = skipped_files([tmp_path / name for name in files] + [tmp_path / "gone.jl"])
    assert skipped.gone == ["gone.jl"]
    reasons = dict(skipped.unreadable)
    assert reasons.keys() == files.keys()
    assert reasons["x:y.jl"] == COLON
    assert reasons["not.jl.gz"].startswith("gzip: Not a gzipped file")
    assert reasons["cut.jl.gz"].startswith("gzip: Compressed file ended")
    assert reasons["damaged.jl.gz"].startswith("gzip: ")
    assert reasons["not.jl.bz2"] == "bzip2: Invalid data stream"
