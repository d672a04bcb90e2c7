"""Bounded reads of what peers answer over HTTP: at most MAX_ANSWER bytes, then no further.

A node, a metrics endpoint or a man in the middle (scrapyd speaks plain HTTP) may answer 200 MB
or never stop; the answer is refused as soon as it passes the cap (decompressed bytes count), so a
reader's memory stays bounded whatever the peer sends.
"""

from __future__ import annotations

from typing import Final

import aiohttp

MAX_ANSWER: Final = 8 * 2**20  # bytes of one answer from a peer: a node's JSON, a metrics page
CHUNK: Final = 64 * 1024


def size(n: int) -> str:
    """Bytes as a short figure: 8 MiB, 512 KiB, 100 B."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


class AnswerTooLarge(ValueError):
    """An answer passed the cap; the message names it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"answer over {size(limit)}")


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER) -> bytes:
    """The body of `response`, refused with AnswerTooLarge once it passes `limit` bytes (the
    connection is then closed, the rest never read)."""
    declared = response.content_length
    if declared is not None and declared > limit:
        response.close()
        raise AnswerTooLarge(limit)
    chunks, total = [], 0
    async for chunk in response.content.iter_chunked(CHUNK):
        total += len(chunk)
        if total > limit:
            response.close()
            raise AnswerTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
