"""Staging files: an upload's bytes stay out of sight until the whole file is linked into place.

The staging directory is `<root>/.staging` (same file system as the root, hidden from Spark).
Landing is `fsync` of the file, `link` into place (atomic, never replaces an existing name),
`unlink` of the staging name, `fsync` of the landing directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

STAGING_DIR = ".staging"


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clear_staging(staging: Path) -> int:
    """Create the staging directory; remove what a previous run left there. Returns the count."""
    staging.mkdir(parents=True, exist_ok=True)
    leftovers = [path for path in staging.iterdir() if path.is_file()]
    for path in leftovers:
        path.unlink()
    return len(leftovers)


class StagedFile:
    """One upload in progress, written to a unique file in the staging directory."""

    def __init__(self, staging: Path) -> None:
        fd, name = tempfile.mkstemp(dir=staging, suffix=".part")
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide landed files from a reader of another user
        self.fd: int | None = fd
        self.path = Path(name)
        self.size = 0
        self.newlines = 0
        self.last_byte = b""

    @property
    def lines(self) -> int:
        """Lines as a reader counts them: newlines, plus an unterminated last line."""
        return self.newlines + (self.last_byte not in (b"", b"\n"))

    def write(self, data: bytes) -> None:
        """Append a block (page-cache write; durability comes from `land`), counting its lines."""
        assert self.fd is not None, "staged file already closed"
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(data)
        if data:
            self.newlines += data.count(b"\n")
            self.last_byte = data[-1:]

    def sync(self) -> None:
        """Flush the bytes to disk (before `land`)."""
        assert self.fd is not None, "staged file already closed"
        os.fsync(self.fd)

    def land(self, target: Path) -> None:
        """Link the synced file into place without replacing anything, drop the staging name,
        fsync the landing directory. On any error (FileExistsError included) nothing lands."""
        try:
            os.link(self.path, target)
        finally:
            self.discard()
        fsync_dir(target.parent)

    def discard(self) -> None:
        """Close and remove the staging file (idempotent)."""
        self._close()
        self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
