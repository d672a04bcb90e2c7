"""The files Spark's file source listed for a micro-batch (its log in CHECKPOINT/sources/0).

The job checks them after each micro-batch and names the ones Spark skipped (`inputs`).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

SOURCE_LOG = Path("sources") / "0"  # the query's only source


def batch_files(checkpoint: Path, batch_id: int) -> list[Path] | None:
    """Local paths of the files listed for `batch_id`, or None if the log cannot be read.

    A batch's entries are in the file named by its id, or in the `.compact` file that Spark
    writes every few batches (which holds every earlier entry too).
    """
    log = checkpoint / SOURCE_LOG
    for path in (log / str(batch_id), log / f"{batch_id}.compact"):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()[1:]  # after the "v1" header
        except OSError:
            continue
        try:
            entries = [json.loads(line) for line in lines if line.strip()]
            return [
                Path(unquote(urlparse(e["path"]).path))
                for e in entries
                if e.get("batchId", batch_id) == batch_id
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
    return None
