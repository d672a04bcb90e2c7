"""The query's progress listener: each micro-batch's duration, input rows and state size."""

from __future__ import annotations

import structlog
from pyspark.sql.streaming.listener import (
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
    StreamingQueryListener,
)

from scrapyfleet.analytics.metrics import JobMetrics

log = structlog.get_logger("scrapyfleet.analytics")

SST_BYTES = "rocksdbSstFileSize"  # the state store's files on disk (RocksDB provider)


class ProgressLogger(StreamingQueryListener):
    """Logs each micro-batch's duration, input rows and state size (and counts it in `metrics`)."""

    def __init__(self, metrics: JobMetrics | None = None) -> None:
        super().__init__()
        self.metrics = metrics

    def onQueryStarted(self, event: QueryStartedEvent) -> None:
        pass

    def onQueryProgress(self, event: QueryProgressEvent) -> None:
        progress = event.progress
        state = progress.stateOperators[0] if progress.stateOperators else None
        log.info(
            "batch_done",
            batch_id=progress.batchId,
            input_rows=progress.numInputRows,
            millis=progress.durationMs.get("triggerExecution"),
            state_rows_updated=state.numRowsUpdated if state else None,
            state_memory_bytes=state.memoryUsedBytes if state else None,
            state_file_bytes=state.customMetrics.get(SST_BYTES) if state else None,
        )
        if self.metrics is not None:
            self.metrics.micro_batch(progress.durationMs.get("triggerExecution"))

    def onQueryIdle(self, event: QueryIdleEvent) -> None:
        pass

    def onQueryTerminated(self, event: QueryTerminatedEvent) -> None:
        pass
