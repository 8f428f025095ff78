"""Rollup of one spool by Spark local[2] and by the DuckDB warehouse, timed in one run.

Both run the same `analytics/sql/rollup_*.sql`; the figure is the ratio on this machine, not
a verdict on either engine (Spark pays for a JVM and a scheduler that only pay back on a
cluster). The rollups are also compared row for row, so a fast wrong answer cannot pass.

    python -m bench.bench_spark --events 2000000          # writes a spool, then times
    python -m bench.bench_spark --spool var/spool          # an existing spool
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from analytics.spark import load_spark_rollups, spark_rollup, spark_session
from analytics.spool import list_segments
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse

# Enough for a 10M-event spool on local[2] (COUNT DISTINCT spills beyond that).
SPARK_CONF = {"spark.driver.memory": "2g", "spark.sql.shuffle.partitions": "4"}


def _tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in ROLLUP_TABLES
        }


def run(spool_dir: str | Path, *, master: str = "local[2]") -> dict[str, object]:
    """Time DuckDB `Warehouse.run` and `spark_rollup` over `spool_dir`; compare the results.

    Spark is timed twice in one session: `spark_first_s` includes the first job's class
    loading and code generation (what a cron-started job pays besides JVM start-up,
    `spark_startup_s`); `spark_s` is a second, warm run.
    """
    spool = Path(spool_dir)
    segments = list_segments(spool)
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        db = work / "warehouse.duckdb"
        started = time.perf_counter()
        events = Warehouse(db).run(spool).ingest.events
        duckdb_s = time.perf_counter() - started

        started = time.perf_counter()
        with spark_session(master, conf=SPARK_CONF) as spark:
            startup_s = time.perf_counter() - started
            started = time.perf_counter()
            spark_rollup(str(spool), str(work / "spark-cold"), master=master)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            spark_rollup(str(spool), str(work / "spark"), master=master)
            spark_s = time.perf_counter() - started
            version = str(spark.version)
        load_spark_rollups(work / "spark", work / "spark.duckdb")
        identical = _tables(db) == _tables(work / "spark.duckdb")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "events": events,
        "segments": len(segments),
        "duckdb_s": round(duckdb_s, 2),
        "spark_startup_s": round(startup_s, 2),
        "spark_first_s": round(first_s, 2),
        "spark_s": round(spark_s, 2),
        "spark_over_duckdb": round(spark_s / duckdb_s, 2) if duckdb_s else None,
        "identical": identical,
        "spark_version": version,
        "master": master,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_spark", description=__doc__, allow_abbrev=False
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--events", type=int, default=1_000_000, help="events to generate")
    source.add_argument("--spool", type=Path, help="time this spool instead")
    parser.add_argument("--days", type=int, default=30, help="days the events spread over")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    if args.spool is not None:
        result = run(args.spool, master=args.master)
    else:
        from bench.gen import write_spool

        work = Path(tempfile.mkdtemp(prefix="bench-spark-spool-"))
        try:
            first = datetime.now(UTC).date() - timedelta(days=args.days)
            write_spool(work, first, args.days, max(1, args.events // args.days))
            result = run(work, master=args.master)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
