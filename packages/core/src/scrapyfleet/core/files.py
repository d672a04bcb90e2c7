"""Atomic file writes: readers see the old contents or the new, never a partial file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

READABLE = 0o644  # mkstemp creates 0600; readers (the demo, a web console) may be other users
PRIVATE = 0o600


def write_text_atomic(path: Path, text: str | Iterable[str], mode: int = READABLE) -> None:
    """Write `text` (or its pieces, each as it comes: a long file is never held whole) to a
    hidden temporary file beside `path`, fsync it, rename it over `path`.

    The hidden name (`.NAME.*.tmp`) keeps Spark's file source and other readers off it.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                f.writelines(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(
    path: Path, data: Any, indent: int | None = None, mode: int = READABLE
) -> None:
    """`data` as strict JSON (UTF-8, a final newline when indented), written atomically.

    ValueError for NaN or an infinity, which JSON has no number for (a browser's `JSON.parse`
    rejects Python's `NaN`/`Infinity`), before anything is written.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False)
    write_text_atomic(path, text + "\n" if indent is not None else text, mode)
