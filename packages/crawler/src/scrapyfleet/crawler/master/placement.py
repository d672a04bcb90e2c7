"""Where the next batch goes: the node with the most free slots, round-robin among equals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

Placement = Literal["free", "round-robin"]


class Placer:
    """Chooses nodes; remembers the round-robin position between calls."""

    def __init__(self, policy: Placement = "free") -> None:
        self.policy = policy
        self._turn = 0

    def choose(
        self, nodes: Sequence[str], free: Mapping[str, int], avoid: str | None = None
    ) -> str | None:
        """A node for one batch, or None when none may take it now.

        `free` maps a node to its free slots (ignored by pure round-robin, which queues work on
        scrapyd like the book did). `avoid` (the node a batch just failed on) is skipped when
        another node qualifies.
        """
        candidates = [n for n in nodes if self.policy == "round-robin" or free.get(n, 0) > 0]
        if avoid is not None and len(candidates) > 1:
            candidates = [n for n in candidates if n != avoid]
        if not candidates:
            return None
        if self.policy == "free":
            most = max(free.get(n, 0) for n in candidates)
            candidates = [n for n in candidates if free.get(n, 0) == most]
        # Round-robin among the remaining candidates, in the order of `nodes`.
        order = sorted(candidates, key=lambda n: (nodes.index(n) - self._turn) % len(nodes))
        chosen = order[0]
        self._turn = (nodes.index(chosen) + 1) % len(nodes)
        return chosen
