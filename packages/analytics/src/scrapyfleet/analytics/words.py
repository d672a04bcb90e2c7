"""Title words: lower-cased runs of letters and digits, each counted once per title."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

NON_WORD = r"[^\p{L}\p{N}]+"
WORD = "word"  # an entry for one word of a listing's title
LISTING = "listing"  # the entry every listing has once, whatever its title


def title_words(title: Column) -> Column:
    """The distinct words of `title` as an array (same rule as the demo site's `title_words`)."""
    words = F.split(F.lower(title), NON_WORD)
    return F.array_distinct(F.filter(words, lambda word: word != ""))


def word_listing_pairs(listings: DataFrame) -> DataFrame:
    """Listings (`title`, `price`) -> `kind`, `word`, `price` entries.

    One (`word`, w, price) entry per distinct word w of each title, plus one (`listing`, "",
    price) entry per listing, so a single aggregation yields both per-word and overall totals.
    """
    entries = F.concat(
        F.array(F.struct(F.lit(LISTING).alias("kind"), F.lit("").alias("word"))),
        F.transform(
            title_words(F.col("title")),
            lambda word: F.struct(F.lit(WORD).alias("kind"), word.alias("word")),
        ),
    )
    return listings.select(F.inline(entries), "price")
