"""Parsing the benchmark site's path-segment knobs."""

from __future__ import annotations

import pytest

from scrapyfleet.demosite.knobs import KnobError, Knobs, parse_knobs


def test_no_knobs_are_the_books_defaults() -> None:
    knobs = parse_knobs("")
    assert knobs == Knobs()
    assert (knobs.index_delay, knobs.detail_delay, knobs.api_delay) == (0.5, 1.0, 3.0)
    assert (knobs.total_items, knobs.details_per_index, knobs.items_per_detail) == (1000, 20, 1)
    assert (knobs.detail_extra_size, knobs.index_pointahead) == (0, 1)


def test_structure_knobs() -> None:
    knobs = parse_knobs("ti:5000/dp:7/id:3/ds:100/ip:2/")
    assert knobs.total_items == 5000 and knobs.details_per_index == 7
    assert knobs.items_per_detail == 3 and knobs.detail_extra_size == 100
    assert knobs.index_pointahead == 2
    assert knobs.index_pages == 239  # ceil(5000 / 21)


@pytest.mark.parametrize("path", ["rr:0.125/ir:2/", "ir:2/rr:0.125/"])
def test_rr_sets_every_delay_unless_one_is_given(path: str) -> None:
    knobs = parse_knobs(path)
    assert (knobs.index_delay, knobs.detail_delay, knobs.api_delay) == (2.0, 0.125, 0.125)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("zz:1/", "unknown knob 'zz'"),
        ("ti/", "not name:value"),
        ("ti:many/", "'ti' needs an integer"),
        ("ti:0/", "'ti' must be within"),
        ("dp:1.5/", "'dp' needs an integer"),
        ("ds:-1/", "'ds' must be within"),
        ("rr:fast/", "'rr' needs a number"),
        ("rr:nan/", "finite"),
        ("ar:inf/", "finite"),
        ("ir:-0.1/", "'ir' must be within"),
        ("dr:3600/", "'dr' must be within"),
        ("ti:5/ti:6/", "given twice"),
    ],
)
def test_malformed_knobs_raise_a_one_line_reason(path: str, reason: str) -> None:
    with pytest.raises(KnobError, match=reason) as caught:
        parse_knobs(path)
    assert "\n" not in str(caught.value)
