"""A shared local Spark session and the pure-Python reference the job must agree with."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from pyspark.sql import SparkSession

from scrapyfleet.analytics.session import build_session

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NON_WORD = re.compile(r"[\W_]+")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session("local[2]", shuffle_partitions=1, app_name="analytics-tests")
    yield session
    session.stop()


def _price(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        price = float(value)
    elif isinstance(value, str):
        try:
            price = float(value)
        except ValueError:
            found = _NUMBER.search(value.replace(",", ""))
            price = float(found[0]) if found else math.nan
    else:
        return None
    return price if math.isfinite(price) and price > 0 else None


def _title(value: Any) -> str | None:
    if isinstance(value, list):
        value = " ".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) and value.strip() else None


def reference_table(lines: Iterable[str]) -> dict[str, Any]:
    """The expected table, computed directly from item lines (first delivery of a url wins)."""
    listings: dict[str, tuple[set[str], float]] = {}
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            bad += 1
            continue
        url, title, price = item.get("url"), _title(item.get("title")), _price(item.get("price"))
        if not isinstance(url, str) or not url.strip() or title is None or price is None:
            bad += 1
            continue
        words = {w for w in _NON_WORD.split(title.lower()) if w}
        listings.setdefault(url.strip(), (words, price))
    n = len(listings)
    total = math.fsum(price for _, price in listings.values())
    per_word: dict[str, list[float]] = {}
    for words, price in listings.values():
        for word in words:
            per_word.setdefault(word, []).append(price)
    table = {}
    for word, prices in per_word.items():
        if len(prices) == n:
            continue
        s = math.fsum(prices)
        shift = (s / len(prices) - (total - s) / (n - len(prices))) / (total / n)
        table[word] = {"shift": shift, "count": len(prices), "sum": s}
    return {"listings": n, "bad_records": bad, "words": table}


def assert_same_table(document: dict[str, Any], expected: dict[str, Any]) -> None:
    """`shifts.json` contents agree with `reference_table` (shifts to 1e-9)."""
    assert document["listings"] == expected["listings"]
    assert document["bad_records"] == expected["bad_records"]
    got = {row["word"]: row for row in document["words"]}
    assert got.keys() == expected["words"].keys()
    for word, want in expected["words"].items():
        assert got[word]["count"] == want["count"], word
        assert got[word]["sum"] == pytest.approx(want["sum"], rel=1e-12), word
        assert got[word]["shift"] == pytest.approx(want["shift"], abs=1e-9), word
    shifts = [row["shift"] for row in document["words"]]
    assert shifts == sorted(shifts, reverse=True)


@pytest.fixture(name="reference_table")
def reference_table_fixture() -> Callable[[Iterable[str]], dict[str, Any]]:
    return reference_table


@pytest.fixture(name="assert_same_table")
def assert_same_table_fixture() -> Callable[[dict[str, Any], dict[str, Any]], None]:
    return assert_same_table
