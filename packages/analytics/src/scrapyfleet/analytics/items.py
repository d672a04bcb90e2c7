"""Parse item lines (JSON text) into listings: `url`, `title`, `price` and a `bad` flag.

Every field is read as a string: Spark's JSON parser keeps a non-string value (a number, a list)
as its raw JSON text, so one explicit schema accepts the book's shapes too: `title` as a string or
a list of strings (joined by spaces), `price` as a number, a numeric string, price text such as
`£1,234.50pw`, or a list whose first element is one of those.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

ITEM_SCHEMA = StructType([StructField(name, StringType()) for name in ("url", "title", "price")])
PRICE_NUMBER = r"[0-9]+(\.[0-9]+)?"


def _as_list(raw: Column) -> Column:
    """The JSON list in `raw`, or null when `raw` is not the text of a list of values."""
    return F.from_json(raw, "array<string>")


def title_text(raw: Column) -> Column:
    """A title string, or the words of a list of strings joined by spaces."""
    listed = _as_list(raw)
    return F.when(listed.isNotNull(), F.array_join(listed, " ")).otherwise(raw)


def price_value(raw: Column) -> Column:
    """A price as a double: a JSON number, a numeric string, or the first number in price text.

    Thousands separators (`,`) are dropped; anything unusable is null.
    """
    listed = _as_list(raw)
    text = F.when(listed.isNotNull(), F.get(listed, 0)).otherwise(raw)
    in_text = F.regexp_extract(F.regexp_replace(text, ",", ""), PRICE_NUMBER, 0)
    return F.coalesce(
        text.try_cast("double"),
        F.when(~text.startswith("{"), in_text.try_cast("double")),
    )


def parse_items(lines: DataFrame, max_line_bytes: int) -> DataFrame:
    """Text lines (`value`) -> `url`, `title`, `price`, `bad`; blank lines are dropped.

    A line is bad when it is longer than `max_line_bytes` (UTF-8; it is never parsed), not a JSON
    object, or has no url, no title, or no usable price (not a finite number > 0).
    """
    value = F.col("value")
    fits = F.octet_length(value) <= max_line_bytes  # O(1): never scans a huge line
    item = F.from_json(F.when(fits, value), ITEM_SCHEMA)
    parsed = lines.where(~fits | (F.trim(value) != "")).select(
        F.trim(item["url"]).alias("url"),
        title_text(item["title"]).alias("title"),
        price_value(item["price"]).alias("price"),
    )
    price = F.col("price")
    good = (
        (F.coalesce(F.col("url"), F.lit("")) != "")
        & (F.trim(F.coalesce(F.col("title"), F.lit(""))) != "")
        & price.isNotNull()
        & ~F.isnan(price)
        & (price > 0)
        & (price < float("inf"))
    )
    return parsed.withColumn("bad", ~F.coalesce(good, F.lit(False)))
