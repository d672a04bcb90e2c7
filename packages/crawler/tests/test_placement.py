"""Placement policy (pure logic)."""

from __future__ import annotations

from collections import Counter

from scrapyfleet.crawler.master.placement import Placer


def test_most_free_slots_wins_and_ties_rotate() -> None:
    placer = Placer("free")
    nodes = ["a", "b", "c"]
    assert placer.choose(nodes, {"a": 1, "b": 3, "c": 2}) == "b"
    picks = [placer.choose(nodes, {"a": 2, "b": 2, "c": 2}) for _ in range(6)]
    assert Counter(picks) == {"a": 2, "b": 2, "c": 2}
    assert placer.choose(nodes, {"a": 0, "b": 0, "c": 0}) is None


def test_avoid_the_node_that_failed_unless_it_is_the_only_one() -> None:
    placer = Placer("free")
    assert placer.choose(["a", "b"], {"a": 5, "b": 1}, avoid="a") == "b"
    assert placer.choose(["a"], {"a": 5}, avoid="a") == "a"


def test_round_robin_ignores_free_slots() -> None:
    placer = Placer("round-robin")
    picks = [placer.choose(["a", "b", "c"], {}) for _ in range(5)]
    assert picks == ["a", "b", "c", "a", "b"]


def test_simulated_capacity_split_is_proportional() -> None:
    """Batches that take one tick each: a 1-slot node gets a third of a 2-slot node's share."""
    placer = Placer("free")
    slots = {"small": 1, "big": 3}
    got: Counter[str] = Counter()
    for _ in range(40):  # each tick every slot frees up again
        free = dict(slots)
        while (node := placer.choose(list(slots), free)) is not None:
            free[node] -= 1
            got[node] += 1
    assert got == {"small": 40, "big": 120}
