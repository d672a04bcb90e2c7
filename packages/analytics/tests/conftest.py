"""A shared local Spark session, the job's streaming query over a run directory, and the
pure-Python reference the job must agree with."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from scrapyfleet.analytics.job import start_query
from scrapyfleet.analytics.options import parse_args
from scrapyfleet.analytics.session import build_session

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SIGNED = re.compile(r"-?[£$€¥]?\s*-?[0-9]+(?:\.[0-9]+)?")  # the job's, for these currencies
MAX_PRICE, MAX_TITLE_WORDS = 1e9, 64  # the job's defaults
_NON_WORD = re.compile(r"[\W_]+")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session("local[2]", shuffle_partitions=1, app_name="analytics-tests")
    yield session
    session.stop()


def _non_finite(constant: str) -> NoReturn:
    raise ValueError(f"non-finite number {constant} in JSON")


def strict_json(text: str) -> Any:
    """`json.loads` that rejects NaN and Infinity, as a browser's JSON.parse does."""
    return json.loads(text, parse_constant=_non_finite)


class Job:
    """One streaming query over a run directory (items, checkpoint, output)."""

    def __init__(self, spark: SparkSession, root: Path, *extra: str) -> None:
        self.spark = spark
        self.items = root / "items"
        self.output = root / "out"
        self.checkpoint = root / "ckpt"
        self.args = parse_args(
            [
                str(self.items),
                "--checkpoint",
                str(self.checkpoint),
                "--output",
                str(self.output),
                "--trigger",
                "100ms",
                *extra,
            ]
        )
        self.query: StreamingQuery | None = None

    def start(self, echo: Callable[[str], None] | None = None) -> None:
        self.query = start_query(self.spark, self.args, echo=echo)

    def stop(self) -> None:
        if self.query is not None:
            self.query.stop()
            self.query = None

    def drop(self, name: str, lines: list[str]) -> None:
        """Land a file the way ftpsink does: write a hidden staging file, then rename it."""
        self.items.mkdir(parents=True, exist_ok=True)
        staging = self.items / f".{name}"
        staging.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(staging, self.items / name)

    def land(self, name: str, lines: list[str]) -> dict[str, Any]:
        """Drop a file, wait until the query has processed it, return shifts.json (strict)."""
        assert self.query is not None
        self.drop(name, lines)
        self.query.processAllAvailable()
        assert self.query.exception() is None
        document: dict[str, Any] = strict_json(
            (self.output / "shifts.json").read_text(encoding="utf-8")
        )
        return document


@pytest.fixture(scope="session")
def make_job(spark: SparkSession) -> Callable[..., Job]:
    """`make_job(root, *options)`: a Job on the shared session (start it yourself)."""
    return partial(Job, spark)


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
            found = _SIGNED.search(value.replace(",", ""))
            price = math.nan
            if found:
                number = _NUMBER.search(found[0])
                price = float(number[0]) if number else math.nan
                price = -price if "-" in found[0] else price
    else:
        return None
    return price if 0 < price <= MAX_PRICE else None


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
        words = [w for w in _NON_WORD.split(title.lower()) if w]
        if len(words) > MAX_TITLE_WORDS:
            bad += 1
            continue
        listings.setdefault(url.strip(), (set(words), price))
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


@pytest.fixture(name="strict_json")
def strict_json_fixture() -> Callable[[str], Any]:
    return strict_json
