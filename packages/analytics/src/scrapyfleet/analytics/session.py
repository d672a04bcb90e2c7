"""A SparkSession with sane local defaults: loopback only, no UI, few shuffle partitions."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

LOCAL_IP = "127.0.0.1"
DRIVER_MEMORY = "1g"


def build_session(
    master: str = "local[*]", shuffle_partitions: int = 1, app_name: str = "boostwords"
) -> SparkSession:
    """Get or create the session; settings fixed at JVM start apply only if Python starts it."""
    os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_IP)
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.host", LOCAL_IP)
        .config("spark.driver.bindAddress", LOCAL_IP)
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "false")  # not used by streaming; avoids a warning
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark
