"""Which files of a micro-batch Spark skipped: gone before the read, or unreadable.

Spark's file source skips a listed file that is gone when the micro-batch reads it
(`spark.sql.files.ignoreMissingFiles`) or that it cannot open or decode
(`spark.sql.files.ignoreCorruptFiles`: a name with `:`, a corrupt `.gz`), with only a warning in
its own log, so that one bad file does not fail its micro-batch at every restart. After each
micro-batch the job checks the batch's files (`sourcelog.batch_files`) and names them.
A file whose bytes are not item lines (garbage, invalid UTF-8) is readable: its lines are bad
records.
"""

from __future__ import annotations

import bz2
import gzip
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path

# Hadoop's local file system opens `.NAME.crc` beside each file: `:` makes that a bad URI.
COLON = "a name with ':' (Hadoop's local file system cannot open it)"
# The codecs Spark picks by suffix that Python can check (files of other suffixes are opened).
CODECS: dict[str, tuple[str, Callable[[Path], BufferedIOBase]]] = {
    ".gz": ("gzip", gzip.GzipFile),
    ".bz2": ("bzip2", bz2.BZ2File),
}
CHUNK = 1 << 20


@dataclass(slots=True)
class Skipped:
    """A micro-batch's files Spark skipped: names gone, and (name, reason) unreadable."""

    gone: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def read_problem(path: Path) -> str | None:
    """Why Spark cannot read `path` (None: it can); FileNotFoundError if it is gone.

    A compressed file is decoded to its end (its damage can be anywhere); any other is opened.
    """
    if ":" in path.name:
        return COLON
    codec, decoder = CODECS.get(path.suffix, ("open", None))
    try:
        if decoder is None:
            with path.open("rb") as f:
                f.read(1)
        else:
            with decoder(path) as f:
                while f.read(CHUNK):
                    pass
    except FileNotFoundError:
        raise
    except OSError as exc:  # PermissionError, gzip.BadGzipFile, bz2's "Invalid data stream"
        return f"{codec}: {exc.strerror or exc}"
    except (EOFError, zlib.error) as exc:  # truncated or damaged compressed data
        return f"{codec}: {exc}"
    return None


def skipped_files(files: Iterable[Path]) -> Skipped:
    """Check each of a micro-batch's files the way Spark reads it."""
    skipped = Skipped()
    for path in files:
        try:
            problem = read_problem(path)
        except FileNotFoundError:
            skipped.gone.append(path.name)
            continue
        if problem is not None:
            skipped.unreadable.append((path.name, problem))
    return skipped
