"""Parsing item lines: the book's shapes, bad records, blank lines."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import SparkSession

from scrapyfleet.analytics.items import Limits, parse_items

LIMITS = Limits(max_line_bytes=1 << 20, max_price=1e9, max_title_words=4)

GOOD = [
    ({"url": "u1", "title": "Flat", "price": 1300}, ("u1", "Flat", 1300.0)),
    (
        {"url": "u2", "title": ["Nice", "flat"], "price": ["£1,234.50pw"]},
        ("u2", "Nice flat", 1234.5),
    ),
    ({"url": "u3", "title": "[NEW] flat", "price": "995.5"}, ("u3", "[NEW] flat", 995.5)),
    ({"url": " u4 ", "title": "x", "price": [12]}, ("u4", "x", 12.0)),
    ({"url": "u5", "title": "x", "price": "1.5e3"}, ("u5", "x", 1500.0)),
    ({"url": "u6", "title": "at the limits", "price": 1e9}, ("u6", "at the limits", 1e9)),
    ({"url": "u7", "title": "a-b c d", "price": "£1,000-£1,200pw"}, ("u7", "a-b c d", 1000.0)),
]
BAD = [
    "not json",
    '{"url": "u6", "title": "truncated", "pri',
    "[1, 2]",
    json.dumps({"url": "u7", "price": 100}),
    json.dumps({"url": "u8", "title": "  ", "price": 100}),
    json.dumps({"url": "u9", "title": [], "price": 100}),
    json.dumps({"title": "no url", "price": 100}),
    json.dumps({"url": "u10", "title": "t", "price": "POA"}),
    json.dumps({"url": "u11", "title": "t", "price": 0}),
    json.dumps({"url": "u12", "title": "t", "price": -5}),
    json.dumps({"url": "u13", "title": "t", "price": "NaN"}),
    json.dumps({"url": "u14", "title": "t", "price": True}),
    json.dumps({"url": "u15", "title": "t", "price": {"amount": 5}}),
    json.dumps({"url": "u16", "title": "t"}),
    '{"url": "u17", "title": "t", "price": 1e400}',
    json.dumps({"url": "u18", "title": "t", "price": 1.7e308}),
    json.dumps({"url": "u19", "title": "t", "price": 1e9 + 1}),
    json.dumps({"url": "u20", "title": "t", "price": "-5"}),
    json.dumps({"url": "u21", "title": "t", "price": "£-5"}),
    json.dumps({"url": "u22", "title": "t", "price": ["-£5.00pw"]}),
    json.dumps({"url": "u23", "title": "t", "price": "Infinity"}),
    '{"url": "u24", "title": "t", "price": NaN}',
    json.dumps({"url": "u25", "title": "one two, three-four! 5", "price": 100}),  # 5 words
]


@pytest.fixture(scope="module")
def parsed(spark: SparkSession) -> list[tuple[str | None, str | None, float | None, bool]]:
    lines = [json.dumps(item) for item, _ in GOOD] + BAD + ["", "   "]
    df = spark.createDataFrame([(line,) for line in lines], "value string")
    return [tuple(row) for row in parse_items(df, LIMITS).collect()]


def test_good_items_in_every_shape(parsed: list[tuple[object, ...]]) -> None:
    good = [row[:3] for row in parsed if not row[3]]
    assert good == [expected for _, expected in GOOD]


def test_bad_records_flagged_and_blank_lines_dropped(parsed: list[tuple[object, ...]]) -> None:
    assert len(parsed) == len(GOOD) + len(BAD)
    assert sum(1 for row in parsed if row[3]) == len(BAD)
