"""A SparkSession with the job's settings: loopback only, no UI, RocksDB state, few partitions."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pyspark.sql import SparkSession

LOCAL_IP = "127.0.0.1"
DRIVER_MEMORY = "1g"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
FS_CHECKPOINT = (
    "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager"
)
# Each micro-batch runs freshly generated code for a few thousand rows: the C1 compiler alone
# halves the JVM's CPU per micro-batch (C2 kept two compiler threads busy recompiling it).
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"

# Streaming settings, each measured with bench/analytics.py (docs/performance.md, "Analytics").
STREAMING_CONF = {
    # State in RocksDB (off-heap, spills to disk): bounded heap at any number of urls. The
    # changelog makes a commit append this micro-batch's changes instead of uploading a snapshot.
    "spark.sql.streaming.stateStore.providerClass": ROCKSDB,
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows": "false",  # a get per put
    # Hadoop's FileContext renames fork `readlink` for every checkpoint file (no native Hadoop
    # library in the PySpark wheel): ~25 process starts per micro-batch. FileSystem's do not.
    "spark.sql.streaming.checkpointFileManagerClass": FS_CHECKPOINT,
    # No watermark, so no empty micro-batches are ever needed.
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
    # A file listed for a micro-batch but deleted before it is read is skipped, not fatal; so is
    # one Spark cannot read (a name with `:`, a corrupt .gz): one bad file would otherwise fail
    # its micro-batch at every restart. The job names both (`scrapyfleet.analytics.inputs`).
    "spark.sql.files.ignoreMissingFiles": "true",
    "spark.sql.files.ignoreCorruptFiles": "true",
    "spark.driver.extraJavaOptions": JAVA_OPTIONS,  # applies when Python starts the JVM
    "spark.executor.extraJavaOptions": JAVA_OPTIONS,  # a standalone cluster's executors
}


def build_session(
    master: str = "local[*]",
    shuffle_partitions: int = 1,
    app_name: str = "boostwords",
    extra: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get or create the session; settings fixed at JVM start apply only if Python starts it.

    `extra` overrides any setting (the benchmark compares alternatives with it).
    """
    os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_IP)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.host", LOCAL_IP)
        .config("spark.driver.bindAddress", LOCAL_IP)
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "false")  # not used by streaming; avoids a warning
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in (STREAMING_CONF | dict(extra or {})).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
