"""The rollup on Apache Spark: the warehouse's own rollup SQL over a spool of any size.

`spark_rollup` reads the spool (a local folder, or ``s3a://bucket/prefix`` on a cluster with
hadoop-aws) as the Hive dataset it is, derives `day` from `ts` in the site's time zone exactly
as the DuckDB warehouse does, exposes the events as the view ``scoped_events``, and runs THE
SAME ``analytics/sql/rollup_<table>.sql`` files the warehouse runs: one definition of each
rollup, so the two engines cannot drift (`tests/test_spark_parity.py` holds them to it).

Each rollup table is written as Parquet partitioned by day under ``<output>/<table>/``, with a
small ``_cookiewall.json`` manifest beside them (underscore-prefixed: Hive readers skip it).
`load_spark_rollups` copies those tables into a DuckDB file, so ``analytics report`` and every
analyst's SQL work on them unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from analytics.errors import AnalyticsError, WarehouseError
from analytics.event import EVENT_SCHEMA, SCHEMA_VERSION
from analytics.spool import DAY_PREFIX, SEGMENT_SUFFIX, list_segments
from analytics.warehouse import ROLLUP_TABLES, connect, read_sql, validate_timezone

MANIFEST = "_cookiewall.json"
DEFAULT_MASTER = "local[2]"

# Small enough for a laptop or a CI runner; a cluster overrides these with spark-submit --conf.
_LOCAL_CONF: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
    # `ts` is an instant; keep Spark's own rendering of it in UTC whatever the machine says.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "static",
}


class SparkRollupError(AnalyticsError):
    """Spark is missing, cannot start, or cannot read the spool or write the output."""


def _spark_type(arrow_type: pa.DataType) -> Any:
    from pyspark.sql import types as T

    if pa.types.is_timestamp(arrow_type):
        return T.TimestampType()
    if pa.types.is_string(arrow_type):
        return T.StringType()
    if pa.types.is_int32(arrow_type):
        return T.IntegerType()
    if pa.types.is_int64(arrow_type):
        return T.LongType()
    if pa.types.is_boolean(arrow_type):
        return T.BooleanType()
    raise TypeError(f"no Spark type for the event column type {arrow_type}")


def event_struct() -> Any:
    """EVENT_SCHEMA as a Spark StructType (the one place the event's fields are defined)."""
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(f.name, _spark_type(f.type), f.nullable) for f in EVENT_SCHEMA]
    )


@contextlib.contextmanager
def spark_session(
    master: str = DEFAULT_MASTER, *, conf: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """A SparkSession for one job, stopped afterwards unless it was already running
    (under spark-submit the session belongs to the caller)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkRollupError(
            "the Spark engine needs pyspark and Java 17+: pip install 'pyspark>=4.0'"
        ) from None
    already = SparkSession.getActiveSession()
    if already is not None:
        yield already
        return
    builder = SparkSession.builder.master(master).appName("cookiewall-rollup")
    for key, value in {**_LOCAL_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # no Java, a bad master URL: pyspark raises several types
        raise SparkRollupError(f"cannot start Spark ({master}): {_first_line(error)}") from None
    session.sparkContext.setLogLevel("ERROR")  # WARN chatter (e.g. globbed paths) is noise
    try:
        yield session
    finally:
        session.stop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _is_local(location: str) -> bool:
    return "://" not in location or location.startswith("file://")


def read_spool(spark: Any, spool: str, *, timezone: str = "UTC") -> Any:
    """The spool as a DataFrame of the event columns plus `day`, the local date of `ts` in
    `timezone` — the warehouse's ``CAST(timezone(tz, ts) AS DATE)``.

    The ``day=`` folder is where a segment was filed, by the recorder's UTC clock; it is
    read (Hive partition discovery) but replaced, so a site time zone moves day boundaries
    exactly as it does in the warehouse.
    """
    from pyspark.sql import functions as F

    validate_timezone(timezone)
    if _is_local(spool):
        root = spool.removeprefix("file://")
        if not list_segments(root):  # SpoolError if the folder is missing
            return _with_day(spark.createDataFrame([], event_struct()), timezone)
    # Globbing the day folders (not the root) keeps `salts/`, `quarantine/` and other
    # siblings out of partition discovery; hidden and temporary files are skipped by Spark.
    frame = (
        spark.read.schema(event_struct())
        .option("basePath", spool)
        .parquet(f"{spool.rstrip('/')}/{DAY_PREFIX}*")
    )
    columns = [F.col(f.name) for f in EVENT_SCHEMA]
    return _with_day(frame.select(*columns), timezone)


def _with_day(frame: Any, timezone: str) -> Any:
    from pyspark.sql import functions as F

    local = F.from_utc_timestamp(F.col("ts"), timezone)  # session time zone is UTC
    return frame.withColumn("day", F.to_date(local))


def spark_rollup(
    spool: str,
    output_dir: str,
    *,
    master: str = DEFAULT_MASTER,
    timezone: str = "UTC",
    conf: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Roll up the whole spool on Spark; write every rollup table; return rows per table.

    Each table is recomputed in full and replaces ``<output_dir>/<table>/``.
    """
    validate_timezone(timezone)
    with spark_session(master, conf=conf) as spark:
        from pyspark.errors import PySparkException

        try:
            # Five rollups read the same events: cached once (spilling to disk when large)
            # instead of scanning the spool five times.
            events = read_spool(spark, spool, timezone=timezone).cache()
            events.createOrReplaceTempView("scoped_events")
            counts: dict[str, int] = {}
            for table in ROLLUP_TABLES:
                target = f"{output_dir.rstrip('/')}/{table}"
                rollup = spark.sql(read_sql(f"rollup_{table}.sql"))
                rollup.write.mode("overwrite").partitionBy("day").parquet(target)
                counts[table] = spark.read.parquet(target).count() if _has_rows(target) else 0
            spark.catalog.dropTempView("scoped_events")
            events.unpersist()
        except PySparkException as error:
            raise SparkRollupError(f"Spark rollup failed: {_first_line(error)}") from None
    if _is_local(output_dir):
        _write_manifest(Path(output_dir.removeprefix("file://")), timezone, counts)
    return counts


def _has_rows(target: str) -> bool:
    # An empty rollup is written as a folder holding only _SUCCESS: nothing to read back.
    if not _is_local(target):
        return True
    return any(Path(target.removeprefix("file://")).glob(f"{DAY_PREFIX}*/*{SEGMENT_SUFFIX}"))


def _write_manifest(output: Path, timezone: str, counts: Mapping[str, int]) -> None:
    manifest = {
        "timezone": timezone,
        "event_schema_version": SCHEMA_VERSION,
        "tables": dict(counts),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    temp = output / f".{MANIFEST}.tmp"
    temp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, output / MANIFEST)


def load_spark_rollups(
    output_dir: str | os.PathLike[str], db_path: str | os.PathLike[str]
) -> dict[str, int]:
    """Create or refresh the rollup tables of a DuckDB file from Spark's Parquet output.

    The file gets the warehouse's own schema (same tables, columns and types), so
    ``analytics report --db FILE`` reads it like a warehouse. It must be a file of its own:
    one that ingests a spool would have its rollups overwritten, so it is refused.
    One transaction: readers see the old tables or the new ones. Returns rows per table.
    """
    output = Path(output_dir)
    if not output.is_dir():
        raise SparkRollupError(f"Spark output {str(output)!r} does not exist or is not a folder")
    manifest = _read_manifest(output)
    con = connect(db_path)
    try:
        con.execute(read_sql("schema.sql"))
        ingested = con.execute("SELECT COUNT(*) FROM ingested_segments").fetchall()[0][0]
        if ingested:
            raise WarehouseError(
                f"{str(db_path)!r} is a warehouse fed from a spool; "
                "load Spark rollups into a DuckDB file of their own"
            )
        counts: dict[str, int] = {}
        con.execute("BEGIN TRANSACTION")
        try:
            for table in ROLLUP_TABLES:  # fixed names, never text from outside
                files = sorted(str(p) for p in output.glob(f"{table}/{DAY_PREFIX}*/*.parquet"))
                con.execute(f"DELETE FROM {table}")
                if files:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet($files, "
                        "hive_partitioning = true, hive_types = {'day': DATE})",
                        {"files": files},
                    )
                counts[table] = int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0])
            if "timezone" in manifest:
                con.execute(
                    "INSERT OR REPLACE INTO warehouse_meta VALUES ('timezone', ?)",
                    [str(manifest["timezone"])],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except WarehouseError:
        raise
    except Exception as error:  # duckdb.Error and friends: one line for the CLI
        raise WarehouseError(f"cannot load Spark rollups: {_first_line(error)}") from None
    finally:
        con.close()
    return counts


def _read_manifest(output: Path) -> dict[str, Any]:
    try:
        data = json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}  # written by another tool, or a Spark job on a cluster: fine
    except (OSError, ValueError) as error:
        raise SparkRollupError(f"unreadable {MANIFEST} in {str(output)!r}: {error}") from None
    return data if isinstance(data, dict) else {}
