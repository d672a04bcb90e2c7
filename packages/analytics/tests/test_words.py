"""Title words in Spark agree with the demo site's tokenizer; one pair per word per listing."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from scrapyfleet.analytics.words import title_words, word_listing_pairs
from scrapyfleet.demosite.catalog import title_words as site_title_words

TRICKY = [
    "Don't miss: 2-bed flat, £1,234pw!",
    "Jacuzzi JACUZZI jacuzzi",
    "Éclair café — naïve CAFÉ",
    "x² Ⅻ 3rd-floor 10%",
    "snake_case and kebab-case",
    "tab\tnew\nline  spaces",
    "Straße İstanbul ΣΟΦΙΑ",
    "日本の家 東京",
    "emoji 🏠 house",
    "",
    "!!!",
]


def test_title_words_match_demosite(spark: SparkSession) -> None:
    df = spark.createDataFrame([(t,) for t in TRICKY], "title string")
    got = [set(row[0]) for row in df.select(title_words(F.col("title"))).collect()]
    assert got == [site_title_words(t) for t in TRICKY]


def test_pairs_count_a_word_once_per_listing(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("Flat flat FLAT, garden", 10.0), ("garden", 4.0)], "title string, price double"
    )
    rows = sorted(tuple(r) for r in word_listing_pairs(df).collect())
    assert rows == [
        ("listing", "", 1, 4.0),
        ("listing", "", 1, 10.0),
        ("word", "flat", 1, 10.0),
        ("word", "garden", 1, 4.0),
        ("word", "garden", 1, 10.0),
    ]


@pytest.mark.parametrize("title", ["", "!!!"])
def test_title_without_words_still_a_listing(spark: SparkSession, title: str) -> None:
    df = spark.createDataFrame([(title, 5.0)], "title string, price double")
    assert [tuple(r) for r in word_listing_pairs(df).collect()] == [("listing", "", 1, 5.0)]
