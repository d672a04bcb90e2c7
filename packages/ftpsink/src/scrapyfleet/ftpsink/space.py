"""The free-space floor: uploads stop before the landing file system fills up."""

from __future__ import annotations

import os
from pathlib import Path

from scrapyfleet.ftpsink.config import FreeSpaceFloor


def free_space_problem(root: Path, floor: FreeSpaceFloor, pending: int = 0) -> str | None:
    """Why `pending` more bytes may not be written under `root` (None if they may): the file
    system's free space would drop below `floor`."""
    stat = os.statvfs(root)
    free = stat.f_bavail * stat.f_frsize
    reserve = floor.bytes_of(stat.f_blocks * stat.f_frsize)
    if free - pending < reserve:
        return f"insufficient storage: {free} bytes free, {reserve} kept in reserve"
    return None
