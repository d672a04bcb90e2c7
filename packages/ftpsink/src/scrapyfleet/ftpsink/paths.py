"""Map a client's virtual path to a real path that provably stays inside the landing root."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathRefused(Exception):
    """A path the sink will not touch, with the FTP reply code to send."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def resolve_inside(root: Path, virtual: PurePosixPath) -> Path:
    """Real path of a normalised absolute `virtual` path under the (already resolved) `root`.

    Names starting with `.` or `_` are refused: Spark ignores them and `.staging` is ours.
    Symlinks are followed and must not lead out of the root.
    """
    parts = virtual.parts[1:]
    hidden = next((part for part in parts if part.startswith((".", "_"))), None)
    if hidden is not None:
        raise PathRefused("553", f"name {hidden!r} is hidden from readers (starts with . or _)")
    real = Path(os.path.realpath(root.joinpath(*parts)))
    if not real.is_relative_to(root):
        raise PathRefused("550", "path leads outside the root")
    return real


def existing_dir(root: Path, virtual: PurePosixPath) -> Path:
    """Real path of a directory the client may CWD into."""
    real = resolve_inside(root, virtual)
    if not real.is_dir():
        raise PathRefused("550", "no such directory")
    return real


def new_dir(root: Path, virtual: PurePosixPath) -> Path:
    """Create a directory (and parents); an existing one is fine, so concurrent MKDs all win."""
    real = resolve_inside(root, virtual)
    try:
        real.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PathRefused("550", "a file is in the way") from None
    return real


def landing_target(root: Path, virtual: PurePosixPath) -> Path:
    """Real path a STOR may land at: inside the root, in an existing directory, not taken."""
    real = resolve_inside(root, virtual)
    if real == root or not real.parent.is_dir():
        raise PathRefused("550", "no such directory")
    if os.path.lexists(real):
        raise PathRefused("553", "file exists and is never overwritten")
    return real
