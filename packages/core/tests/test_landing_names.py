"""The landing-name rule: names every reader opens, and the helper that makes any text one."""

from __future__ import annotations

import pytest

from scrapyfleet.core.contracts import MAX_NAME_BYTES, landing_name_problem, safe_landing_name

GOOD = ["b1_easy_t.jl", "abcd1234-00001_easy_2026-12-01T19-33-33-00-00.jl", "A.b-c_9", "n" * 255]
BAD = [
    "", ".", "..", "x:y.jl", "a+b.jl", "a b.jl", "é.jl", "nul\x00.jl", "sub/x.jl", "sub\\x.jl",
    "_SUCCESS", ".hidden.jl", "part.jl._COPYING_", "n" * 256, "100%.jl", "semi;colon.jl",
]  # fmt: skip


@pytest.mark.parametrize("name", GOOD)
def test_safe_names_land(name: str) -> None:
    assert landing_name_problem(name) is None


@pytest.mark.parametrize("name", BAD)
def test_other_names_are_refused_with_a_reason(name: str) -> None:
    assert landing_name_problem(name)


def test_the_reason_names_the_character() -> None:
    assert landing_name_problem("x:y.jl") == (
        "character ':' not allowed: names hold only letters, digits and . _ -"
    )


@pytest.mark.parametrize("text", [*GOOD, *BAD, "+00:00", "__x", "é" * 300 + ".jl", "x" * 300])
def test_safe_landing_name_always_gives_a_landing_name_and_is_idempotent(text: str) -> None:
    name = safe_landing_name(text)
    assert landing_name_problem(name) is None
    assert safe_landing_name(name) == name


def test_safe_landing_name_keeps_what_it_can() -> None:
    assert safe_landing_name("b1_easy_2026-12-01T19-33-33+00-00.jl") == (
        "b1_easy_2026-12-01T19-33-33-00-00.jl"
    )
    assert safe_landing_name("x:y.jl") == "x-y.jl"
    assert safe_landing_name("_SUCCESS") == "SUCCESS"
    assert safe_landing_name("a.jl._COPYING_") == "a.jl._COPYING"
    long = safe_landing_name("n" * 300 + ".jl")
    assert len(long) == MAX_NAME_BYTES and long.endswith("n.jl")
    assert safe_landing_name("") == safe_landing_name("...") == "unnamed"
