"""Parse item lines (JSON text) into listings: `url`, `title`, `price` and a `bad` flag.

Every field is read as a string: Spark's JSON parser keeps a non-string value (a number, a list)
as its raw JSON text, so one explicit schema accepts the book's shapes too: `title` as a string or
a list of strings (joined by spaces), `price` as a number, a numeric string, price text such as
`£1,234.50pw`, or a list whose first element is one of those. What a good record may be is set
by `Limits` (the job's `--max-*` options): anything beyond is a bad record, never clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from scrapyfleet.analytics.words import more_words_than
from scrapyfleet.core.contracts import ANALYSED_FIELDS

ITEM_SCHEMA = StructType([StructField(name, StringType()) for name in ANALYSED_FIELDS])
PRICE_NUMBER = r"[0-9]+(\.[0-9]+)?"
# The first number in price text with a minus sign before it or its currency sign (`£-5`, `-£5`).
SIGNED_PRICE = r"-?\p{Sc}?\s*-?" + PRICE_NUMBER


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest good record: line bytes (UTF-8), price, and title words."""

    max_line_bytes: int
    max_price: float
    max_title_words: int


def _as_list(raw: Column) -> Column:
    """The JSON list in `raw`, or null when `raw` is not the text of a list of values."""
    return F.from_json(raw, "array<string>")


def title_text(raw: Column) -> Column:
    """A title string, or the words of a list of strings joined by spaces."""
    listed = _as_list(raw)
    return F.when(listed.isNotNull(), F.array_join(listed, " ")).otherwise(raw)


def price_value(raw: Column) -> Column:
    """A price as a double: a JSON number, a numeric string, or the first number in price text.

    Thousands separators (`,`) are dropped; a minus sign is kept (`£-5` is -5); anything
    unusable is null.
    """
    listed = _as_list(raw)
    text = F.when(listed.isNotNull(), F.get(listed, 0)).otherwise(raw)
    found = F.regexp_extract(F.regexp_replace(text, ",", ""), SIGNED_PRICE, 0)
    number = F.regexp_extract(found, PRICE_NUMBER, 0).try_cast("double")
    in_text = F.when(found.contains("-"), -number).otherwise(number)
    return F.coalesce(text.try_cast("double"), F.when(~text.startswith("{"), in_text))


def parse_items(lines: DataFrame, limits: Limits) -> DataFrame:
    """Text lines (`value`) -> `url`, `title`, `price`, `bad`; blank lines are dropped.

    A line is bad when it is longer than `max_line_bytes` (UTF-8; it is never parsed), not a JSON
    object, or has no url, no title, or no usable price (a number > 0 and <= `max_price`: never
    infinite or NaN, so no sum of good prices can overflow), or a title of more than
    `max_title_words` words.
    """
    value = F.col("value")
    fits = F.octet_length(value) <= limits.max_line_bytes  # O(1): never scans a huge line
    item = F.from_json(F.when(fits, value), ITEM_SCHEMA)
    parsed = lines.where(~fits | (F.trim(value) != "")).select(
        F.trim(item["url"]).alias("url"),
        title_text(item["title"]).alias("title"),
        price_value(item["price"]).alias("price"),
    )
    price, title = F.col("price"), F.col("title")
    good = (
        (F.coalesce(F.col("url"), F.lit("")) != "")
        & (F.trim(F.coalesce(title, F.lit(""))) != "")
        & (price > 0)
        & (price <= limits.max_price)  # NaN is above every number in Spark: never <=
        & ~more_words_than(title, limits.max_title_words)
    )
    return parsed.withColumn("bad", ~F.coalesce(good, F.lit(False)))
