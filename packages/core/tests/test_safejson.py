"""safejson: bounded, strict JSON (pure logic)."""

from __future__ import annotations

import math

import pytest

from scrapyfleet.core import safejson


def test_depth_limit_counts_containers() -> None:
    deepest = safejson.loads("[" * 32 + "]" * 32)
    for _ in range(31):
        deepest = deepest[0]
    assert deepest == []
    with pytest.raises(safejson.JSONRefused, match="nested deeper than 32 levels"):
        safejson.loads("[" * 33 + "]" * 33)
    with pytest.raises(safejson.JSONRefused, match="nested deeper than 3 levels"):
        safejson.loads('{"a": {"b": [{"c": 1}]}}', max_depth=3)
    assert safejson.loads('{"a": {"b": [1]}}', max_depth=3) == {"a": {"b": [1]}}


def test_deep_nesting_is_a_refusal_not_a_recursion_error() -> None:
    with pytest.raises(safejson.JSONRefused, match="nested deeper"):
        safejson.loads('{"a":' * 200_000 + "1" + "}" * 200_000)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_refused_or_read_as_none(text: str) -> None:
    with pytest.raises(safejson.JSONRefused, match=f"non-finite number {text}"):
        safejson.loads(f'{{"x": {text}}}')
    seen: list[str] = []
    assert safejson.loads(f'{{"x": {text}, "y": 1.5}}', non_finite=seen.append) == {
        "x": None,
        "y": 1.5,
    }
    assert seen == [text]


@pytest.mark.parametrize("data", [b"", b"{", b"<html>", b"\xff\xfe\x00", "[1,]"])
def test_not_json(data: bytes | str) -> None:
    with pytest.raises(safejson.JSONRefused, match="not JSON"):
        safejson.loads(data)


def test_strict_writing() -> None:
    doc = {"a": math.inf, "b": [1.0, math.nan, (2, -math.inf)], "c": "NaN", "d": 3}
    with pytest.raises(ValueError):
        safejson.dumps(doc)
    assert safejson.dumps(safejson.finite(doc)) == (
        '{"a": null, "b": [1.0, null, [2, null]], "c": "NaN", "d": 3}'
    )
