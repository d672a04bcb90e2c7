"""Running totals over a (streaming) DataFrame of parsed items."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scrapyfleet.analytics.words import word_listing_pairs

BAD = "bad"  # the entry of a bad record


def running_totals(items: DataFrame) -> DataFrame:
    """Parsed items -> `kind`, `word`, `count`, `sum` over everything seen so far.

    Good listings count once per `url` (`dropDuplicates`: in a stream its state lives in the
    checkpoint, so it survives restarts); every bad record counts once as a (`bad`, "") entry.
    """
    listings = items.where(~F.col("bad")).dropDuplicates(["url"])
    bad = items.where(F.col("bad")).select(
        F.lit(BAD).alias("kind"), F.lit("").alias("word"), F.lit(0.0).alias("price")
    )
    return (
        word_listing_pairs(listings)
        .unionByName(bad)
        .groupBy("kind", "word")
        .agg(F.count(F.lit(1)).alias("count"), F.sum("price").alias("sum"))
    )
