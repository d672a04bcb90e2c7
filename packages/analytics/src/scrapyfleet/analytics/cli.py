"""`boostwords`: run the job through the venv's `spark-submit` with local defaults.

Equivalent to `PYSPARK_PYTHON=<venv python> spark-submit --driver-memory 1g <.../job.py> ARGS`,
plus SPARK_LOCAL_IP=127.0.0.1, Spark's log4j set to warnings and the driver's JVM options.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from scrapyfleet.analytics.options import parse_args
from scrapyfleet.analytics.session import DRIVER_MEMORY, JAVA_OPTIONS

HERE = Path(__file__).resolve().parent
JOB = HERE / "job.py"
LOG4J = HERE / "log4j2.properties"


def spark_submit_command(argv: Sequence[str]) -> list[str]:
    """The spark-submit command line that runs the job with `argv`."""
    args = parse_args(argv)  # validates, and answers --help without starting a JVM
    return [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        args.master,
        "--driver-memory",
        DRIVER_MEMORY,
        "--driver-java-options",
        f"-Dlog4j2.configurationFile={LOG4J.as_uri()} {JAVA_OPTIONS}",
        str(JOB),
        *argv,
    ]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    command = spark_submit_command(sys.argv[1:] if argv is None else argv)
    env = os.environ | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.execve(command[0], command, env)
