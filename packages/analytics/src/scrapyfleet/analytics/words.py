"""Title words and the (kind, word) entries a micro-batch adds to the running word table."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from scrapyfleet.analytics.listings import FIRST_SEEN, LAST_SEEN, PRICE, SEEN, TITLE, URL

WORD_CHAR, NON_WORD_CHAR = r"[\p{L}\p{N}]", r"[^\p{L}\p{N}]"  # Java regex classes
NON_WORD = NON_WORD_CHAR + "+"
WORD = "word"  # an entry for one word of a listing's title
LISTING = "listing"  # the entry every listing has once, whatever its title
BAD = "bad"  # the entry of the bad records (its count is the running total, not a change)


def title_words(title: Column) -> Column:
    """The distinct words of `title` as an array (same rule as the demo site's `title_words`)."""
    words = F.split(F.lower(title), NON_WORD)
    return F.array_distinct(F.filter(words, lambda word: word != ""))


def more_words_than(title: Column, limit: int) -> Column:
    """Whether `title` has more than `limit` words (repeats count; `title_words`' rule).

    A regex that stops after word `limit + 1`: linear (possessive quantifiers, complementary
    classes) and without building the array of a huge title's words.
    """
    return F.lower(title).rlike(f"^(?:{NON_WORD_CHAR}*+{WORD_CHAR}++){{{limit + 1}}}")


def _entry(kind: str, word: Column, n: Column, price: Column) -> Column:
    return F.struct(
        F.lit(kind).alias("kind"), word.alias("word"), n.alias("n"), price.alias("price")
    )


def listing_entries(title: Column, price: Column) -> Column:
    """One listing -> (`listing`, "", 1, price) and (`word`, w, 1, price) per distinct word w."""
    one = F.lit(1).cast("bigint")
    return F.concat(
        F.array(_entry(LISTING, F.lit(""), one, price)),
        F.transform(title_words(title), lambda word: _entry(WORD, word, one, price)),
    )


def word_listing_pairs(listings: DataFrame) -> DataFrame:
    """Listings (`title`, `price`) -> their `kind`, `word`, `n`, `price` entries."""
    return listings.select(F.inline(listing_entries(F.col(TITLE), F.col(PRICE))))


def batch_changes(updates: DataFrame) -> DataFrame:
    """A micro-batch's `listing_state` rows -> `kind`, `word`, `count`, `sum`.

    New listings add to `listing` and to each of their words (changes to apply); the bad-record
    row carries the running count of bad records. One select over the rows: the micro-batch is
    computed once (computing it twice would run the stateful step twice).
    """
    bad = F.col(URL).isNull()
    new = F.col(FIRST_SEEN) == F.col(LAST_SEEN)
    entries = F.when(bad, F.array(_entry(BAD, F.lit(""), F.col(SEEN), F.lit(0.0)))).otherwise(
        listing_entries(F.col(TITLE), F.col(PRICE))
    )
    return (
        updates.where(bad | new)
        .select(F.inline(entries))
        .groupBy("kind", "word")
        .agg(F.sum("n").alias("count"), F.sum("price").alias("sum"))
    )
