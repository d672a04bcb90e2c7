"""The boostwords Structured Streaming job: `spark-submit job.py ITEMS_DIR [options]`.

Reads the item files landing in ITEMS_DIR once per micro-batch, keeps one state entry per
distinct url (in the checkpoint's RocksDB state store), brings only the micro-batch's word changes
to the driver's running table (saved in the checkpoint too), and after each micro-batch writes
OUTPUT/shifts.json and OUTPUT/progress.json atomically and prints the top and bottom words. The
driver's Python must be able to import `scrapyfleet.analytics`: run it as
`PYSPARK_PYTHON=.venv/bin/python spark-submit ...`, or through the `boostwords` wrapper, which does
that for you.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType

import structlog
from py4j.protocol import Py4JError
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from scrapyfleet.analytics.inputs import skipped_files
from scrapyfleet.analytics.items import Limits, parse_items
from scrapyfleet.analytics.listener import ProgressLogger
from scrapyfleet.analytics.listings import listing_state
from scrapyfleet.analytics.metrics import JobMetrics
from scrapyfleet.analytics.options import parse_args
from scrapyfleet.analytics.report import record_progress, render, shifts_document
from scrapyfleet.analytics.session import build_session
from scrapyfleet.analytics.shifts import shifts
from scrapyfleet.analytics.sourcelog import batch_files
from scrapyfleet.analytics.table import RunningTable, TableError
from scrapyfleet.analytics.words import batch_changes
from scrapyfleet.core.contracts import PROGRESS_FILE, SHIFTS_FILE
from scrapyfleet.core.files import write_json_atomic
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.metrics import start_exporter

log = structlog.get_logger("scrapyfleet.analytics")
show = partial(print, flush=True)  # the driver's stdout is a pipe under spark-submit


class BatchWriter:
    """The foreachBatch sink: changes -> running table -> shifts -> output files and view.

    A micro-batch replayed after a restart is run again (its state must be committed) but its
    changes are not added twice; its table is rewritten as it was.
    """

    def __init__(
        self,
        table: RunningTable,
        checkpoint: Path,
        output: Path,
        top: int,
        min_count: int,
        echo: Callable[[str], None] | None = show,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.table = table
        self.checkpoint = checkpoint
        self.output = output
        self.top = top
        self.min_count = min_count
        self.echo = echo

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        rows = batch_changes(batch).collect()
        files = batch_files(self.checkpoint, batch_id) or []
        skipped = skipped_files(files)
        if skipped.gone:
            log.warning(
                "files_gone",
                batch_id=batch_id,
                files=skipped.gone,
                reason="listed for this micro-batch but deleted (skipped if gone before read)",
            )
        if skipped.unreadable:
            log.warning(
                "files_unreadable",
                batch_id=batch_id,
                files=[{"name": name, "reason": reason} for name, reason in skipped.unreadable],
                reason="Spark could not read them: skipped, the stream goes on",
            )
        if self.table.apply(batch_id, (tuple(row) for row in rows), skipped.unreadable):
            self.table.save(self.checkpoint)
        totals = self.table.totals
        table = shifts(totals, self.table.per_word())
        updated_at = datetime.now(UTC).isoformat()
        document = shifts_document(batch_id, updated_at, totals, table, self.table.unreadable)
        write_json_atomic(self.output / SHIFTS_FILE, document)
        record_progress(self.output / PROGRESS_FILE, batch_id, updated_at, totals)
        if self.echo is not None:
            self.echo(render(batch_id, totals, table, self.top, self.min_count))
        if self.metrics is not None:
            self.metrics.table_written(totals, len(table), files)
        log.info(
            "table_written",
            batch_id=batch_id,
            listings=totals.listings,
            bad_records=totals.bad_records,
            files_unreadable=totals.files_unreadable,
            words=len(table),
            changes=len(rows),
            seconds=round(time.monotonic() - started, 3),
        )


WARM_UP_LINES = (
    '{"url": "warm-up", "title": "Warm up room", "price": "£1,000.00pw"}',
    "not json",
)


def limits(args: argparse.Namespace) -> Limits:
    """The largest good record, from the parsed options."""
    return Limits(args.max_line_bytes, args.max_price, args.max_title_words)


def warm_up(spark: SparkSession, limits: Limits) -> None:
    """Run the query's batch twin once on two in-memory lines, before any file lands.

    The JVM then has the classes loaded, the code generated and JIT-compiled that the first
    micro-batch needs, so it is not paid for while the crawl competes for the same cores.
    """
    started = time.monotonic()
    values = F.explode(F.array(*(F.lit(line) for line in WARM_UP_LINES)))
    sample = spark.range(1).select(values.alias("value"))  # built in the JVM: no Python worker
    batch_changes(listing_state(parse_items(sample, limits))).collect()
    log.info("warmed_up", seconds=round(time.monotonic() - started, 3))


def start_query(
    spark: SparkSession,
    args: argparse.Namespace,
    echo: Callable[[str], None] | None = show,
    metrics: JobMetrics | None = None,
) -> StreamingQuery:
    """Start the streaming query described by the parsed options (TableError: see `table`)."""
    items_dir, output, checkpoint = Path(args.items_dir), Path(args.output), Path(args.checkpoint)
    for folder in (items_dir, output, checkpoint):
        folder.mkdir(parents=True, exist_ok=True)
    table = RunningTable.load(checkpoint)
    reader = spark.readStream.format("text")
    if args.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", args.max_files_per_trigger)
    lines = reader.load(str(items_dir))
    writer = (
        listing_state(parse_items(lines, limits(args)))
        .writeStream.outputMode("update")
        .foreachBatch(
            BatchWriter(table, checkpoint, output, args.top, args.min_count, echo, metrics)
        )
        .option("checkpointLocation", str(checkpoint))
    )
    if args.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=args.trigger)
    return writer.start()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job until it is stopped (SIGINT/SIGTERM) or, with --available-now, done."""
    args = parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        metrics = JobMetrics() if args.metrics else None
        exporter = start_exporter(args.metrics, metrics.registry) if metrics else None
        if exporter is not None:
            log.info("metrics_serving", url=exporter.url)
        spark = build_session(args.master, args.shuffle_partitions)
        spark.streams.addListener(ProgressLogger(metrics))
        warm_up(spark, limits(args))
        query = start_query(spark, args, metrics=metrics)
        log.info(
            "started",
            items_dir=args.items_dir,
            checkpoint=args.checkpoint,
            output=args.output,
            trigger=args.trigger,
            available_now=args.available_now,
        )
        while query.isActive and not stop.is_set():
            query.awaitTermination(1)
        if query.isActive:
            query.stop()
        log.info("stopped", reason="signal" if stop.is_set() else "done")
        spark.stop()
    except TableError as exc:
        log.error("table_mismatch", reason=str(exc))
        return 1
    except StreamingQueryException as exc:
        log.error("failed", error=exc.getMessage())
        return 1
    except (Py4JError, ConnectionError) as exc:  # the JVM went away (e.g. it got the signal too)
        if stop.is_set():
            log.info("stopped", reason="spark shut down")
            return 0
        log.error("spark_gone", error=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
