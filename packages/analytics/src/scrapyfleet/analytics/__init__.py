"""scrapyfleet.analytics: the boostwords Spark Structured Streaming job.

Run it with the venv's spark-submit (the driver's Python must import this package):

    PYSPARK_PYTHON=.venv/bin/python SPARK_LOCAL_IP=127.0.0.1 .venv/bin/spark-submit \\
        packages/analytics/src/scrapyfleet/analytics/job.py ITEMS_DIR [options]

or `uv run --frozen --no-sync boostwords ITEMS_DIR [options]`, which runs the same spark-submit
with those variables, `--driver-memory 1g` and Spark's log4j at WARN (`log4j2.properties`).
Options: `boostwords --help`. Output: OUTPUT/shifts.json (every word with a shift, sorted by shift
descending; words present in every listing are left out) and OUTPUT/progress.json (last 1000
micro-batches). The Python driver's logs (JSON lines) and the terminal view come out on stdout
(spark-submit merges the driver's stderr into it); Spark's own warnings on stderr.

Counting rules: a listing is identified by its `url` and counts once (the first micro-batch that
delivers it wins; within one micro-batch duplicates are assumed identical and any one is kept);
a record is bad when it is longer than `--max-line-bytes`, not a JSON object, or has no url, no
title, a title of more than `--max-title-words` words, or no price > 0 and <= `--max-price`;
blank lines are skipped without counting. A file listed for a micro-batch but gone before it is
read is skipped and logged (`files_gone`); one Spark cannot read is skipped, logged, counted and
named (`files_unreadable`). Stop with SIGINT/SIGTERM to the process group (Ctrl-C); restart with
the same `--checkpoint` to carry on exactly where it stopped.
"""
