"""Spark local[2] vs the DuckDB warehouse over the same spool (see bench/bench_spark.py)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import Figure
from bench.gen import write_spool


def run(events: int = 10_000_000) -> list[Figure]:
    try:
        from bench.bench_spark import run as spark_run
    except ImportError as error:
        return [Figure("Spark local[2] vs DuckDB rollup", "not available", str(error), "-", None)]
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        days = 30
        first = datetime.now(UTC).date() - timedelta(days=days)
        write_spool(work / "spool", first, days, events // days)
        result = spark_run(work / "spool")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        Figure(
            f"rollup: Spark local[2] vs DuckDB ({events / 1e6:.1f}M events)",
            "same spool, same rollup SQL files",
            (
                f"Spark {result['spark_s']:.1f}s (first run {result['spark_first_s']:.1f}s) vs "
                f"DuckDB {result['duckdb_s']:.1f}s: {result['spark_over_duckdb']:.1f}x; "
                f"tables identical: {result['identical']}"
            ),
            "stated",
            None,
        )
    ]
