"""Where an upload may land: a bare name in the root that the analytics reads, never outside it.

Every name ftpsink accepts passes `landing_name_problem` (scrapyfleet.core.contracts). Paths stay
inside the (resolved) root: `..` is clamped at `/` by aioftp, symlinks leading out of the root
are refused.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from scrapyfleet.core.contracts import HIDDEN_PREFIXES, landing_name_problem
from scrapyfleet.ftpsink import replies
from scrapyfleet.ftpsink.replies import Refusal

ROOT = PurePosixPath("/")


class PathRefused(Exception):
    """A path (or an upload to it) the sink refuses, with the refusal to send."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal
        self.code, self.reason = refusal


def resolve_inside(root: Path, virtual: PurePosixPath) -> Path:
    """Real path of a normalised absolute `virtual` path under the (already resolved) `root`.

    Names starting with `.` or `_` are refused (553): Spark ignores them and `.staging` is ours.
    Symlinks are followed and must not lead out of the root (550).
    """
    parts = virtual.parts[1:]
    hidden = next((part for part in parts if part.startswith(HIDDEN_PREFIXES)), None)
    if hidden is not None:
        raise PathRefused(
            replies.bad_name(f"name {hidden!r} is hidden from readers (starts with . or _)")
        )
    real = Path(os.path.realpath(root.joinpath(*parts)))
    if not real.is_relative_to(root):
        raise PathRefused(replies.OUTSIDE_ROOT)
    return real


def root_dir(root: Path, virtual: PurePosixPath) -> Path:
    """The root, the only directory a client may CWD into (Scrapy CWDs to `/` before STOR)."""
    real = resolve_inside(root, virtual)
    if real != root:
        raise PathRefused(replies.NO_DIRECTORY)
    return real


def landing_target(root: Path, cwd: PurePosixPath, argument: str) -> Path:
    """Real path a `STOR argument` may land at: a name the analytics reads, in the root, free."""
    name = argument.removeprefix("/")
    if cwd != ROOT:
        raise PathRefused(replies.NOT_IN_ROOT)
    problem = landing_name_problem(name)
    if problem is not None:
        raise PathRefused(replies.bad_name(problem))
    resolve_inside(root, ROOT / name)  # a symlink out of the root: 550
    real = root / name
    if os.path.lexists(real):
        raise PathRefused(replies.EXISTS)
    return real
