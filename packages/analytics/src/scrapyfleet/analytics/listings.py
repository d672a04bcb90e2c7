"""Distinct listings: the job's only state, one entry per url in Spark's state store.

Parsed items are grouped by `url` (bad records together under a null url) in one streaming
aggregation, so each micro-batch reads and parses its lines once. Each entry keeps how often the
url was delivered, the first title and price, and the first and last micro-batch that delivered
it (as the micro-batch's timestamp, which Spark fixes in the offset log, so a replayed
micro-batch sees the same one): a url is new in a micro-batch exactly when both are that
micro-batch's timestamp.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

URL, SEEN, TITLE, PRICE = "url", "seen", "title", "price"
FIRST_SEEN, LAST_SEEN = "first_seen", "last_seen"


def listing_state(items: DataFrame) -> DataFrame:
    """Parsed items -> one row per url (null: the bad records) with its running entry.

    Columns: `url`, `seen` (deliveries, or bad records for the null url), `title`, `price` (of
    one delivery; duplicates within a micro-batch are assumed identical), `first_seen`,
    `last_seen`. In `update` output mode a micro-batch emits only the urls it delivered.
    """
    # The micro-batch's timestamp in a stream (projected first: not allowed inside an aggregate).
    stamped = items.select(
        F.when(~F.col("bad"), F.col(URL)).alias(URL),
        TITLE,
        PRICE,
        F.current_timestamp().alias(FIRST_SEEN),
    )
    return stamped.groupBy(URL).agg(
        F.count(F.lit(1)).alias(SEEN),
        F.first(TITLE).alias(TITLE),
        F.first(PRICE).alias(PRICE),
        F.min(FIRST_SEEN).alias(FIRST_SEEN),
        F.max(FIRST_SEEN).alias(LAST_SEEN),
    )
