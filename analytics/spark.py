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

Runs are incremental, like the warehouse's: the manifest remembers each spool day's segments
(a count and a digest of their names; the names themselves in one small file a day under
``_spool_names/``, read only when that day changes), and a run recomputes only the local days
that a new or grown spool day touches, replacing just those day partitions. Rollups survive
pruning: a spool day that is gone (an object-store lifecycle rule, say) or has lost segments,
even while gaining others, keeps its rollups, and no local day that overlaps it is ever
recomputed from what is left. Only regular sealed segment files are read (`list_spool`).

Late segments in a pruned spool day are added, as the warehouse adds them: the manifest
keeps the names of the segments a pruned day has had counted (few: a pruned day has few or
none left), the rollups of the new ones alone are summed into the existing rows of the local
days they touch (pageviews exact, visitors possibly counting someone twice), and their names
are recorded. The summed partitions are staged under ``_late_rollups/`` and the manifest
records them as pending BEFORE they replace the live ones, so a run stopped in between
re-applies the same staged rows next time instead of adding the segments again.

With a site time zone, a local day overlapping a pruned spool day is never recomputed, yet a
segment arriving in its OTHER (unpruned) spool day has events in it: the segments such a grown
day gained, known by name, are summed into that local day the same way (`DayPlan.overlap_days`),
while the other local days they reach are recomputed as usual.

An output counted before the manifest recorded each spool day's reach read a local day only
from the spool days it overlaps, so it lacks the events filed under another day's folder: its
first run with this version recomputes the local days they fall on, once, or names them in a
warning when a spool day one needs is pruned (those stay as they were).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import logging
import os
import re
import signal
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from analytics.database import (
    DEFAULT_LOCK_TIMEOUT,
    SCHEMA_VERSION_META_KEY,
    WAREHOUSE_SCHEMA_VERSION,
    connect,
    ctrl_c_as_keyboard_interrupt,
    has_table,
)
from analytics.errors import AnalyticsError, WarehouseError, first_line
from analytics.event import EVENT_SCHEMA, SCHEMA_VERSION
from analytics.footers import NewerSegmentSchema, check_schema_version, export_mark
from analytics.spool import DAY_PREFIX, SEGMENT_SUFFIX, Segment, list_segments
from analytics.tables import (
    MEASURES,
    MIX_TABLES,
    REFERRER_DOMAINS_FALLBACK,
    ROLLUP_TABLES,
    read_sql,
)
from analytics.timezones import validate_timezone
from analytics.warehouse import (
    commit_checked,
    has_any_table,
    migrate_schema,
    read_commit_token,
)
from analytics.wording import counted

MANIFEST = "_cookiewall.json"
# The files of one table, `day` taken from each file's own `day=` folder (Spark writes the
# column as the folder). Not hive_partitioning: DuckDB would also take any `key=value` folder
# above the output for a column (`/srv/site=other/rollups` gave every row site "other").
_READ_DAY_PARTITIONS = (
    "SELECT * EXCLUDE (filename), CAST(regexp_extract(filename, "
    "'[/\\\\]day=([0-9]{4}-[0-9]{2}-[0-9]{2})[/\\\\][^/\\\\]*$', 1) AS DATE) AS day "
    "FROM read_parquet($files, hive_partitioning = false, filename = true)"
)
# Summed partitions waiting to replace the live ones (underscore: Hive readers skip it).
LATE_STAGING = "_late_rollups"
# Each unpruned spool day's segment names as last counted, one file a day (see plan_days).
NAMES_FOLDER = "_spool_names"
DEFAULT_MASTER = "local[2]"
# What Hadoop's GlobPattern reads as pattern syntax (a backslash escapes the next character).
_GLOB_SPECIAL = re.compile(r"[\\{}\[\]*?]")
# The manifest's record of the spool: bumped when its meaning changes (then a full run).
STATE_VERSION = 1

logger = logging.getLogger("analytics")

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


class SparkRollupCounts(dict[str, int]):
    """What `spark_rollup` returns: the rows of each rollup table (a dict of them, as always),
    and `newer_schema`, the names (``day=…/file``) of the segments of a newer event schema it
    left unread in a local spool, so that a caller can say so as the DuckDB rollup does (the
    CLI exits 4); `not_segments`, those of the warehouse exports it found there and did not
    count (the DuckDB rollup quarantines them; Spark leaves the spool as it is)."""

    def __init__(
        self,
        rows: Mapping[str, int],
        *,
        newer_schema: Iterable[str] = (),
        not_segments: Iterable[str] = (),
    ) -> None:
        super().__init__(rows)
        self.newer_schema: tuple[str, ...] = tuple(sorted(newer_schema))
        self.not_segments: tuple[str, ...] = tuple(sorted(not_segments))


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
    for key, value in {**_LOCAL_CONF, **_quiet_driver_conf(master), **(conf or {})}.items():
        builder = builder.config(key, value)
    sigint_before = signal.getsignal(signal.SIGINT)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # no Java, a bad master URL: pyspark raises several types
        raise SparkRollupError(f"cannot start Spark ({master}): {first_line(error)}") from None
    # pyspark's own SIGINT handler calls cancelAllJobs() from inside the handler, a py4j call
    # made while the main thread is in one: it fails, and py4j logs "Exception while sending
    # command." with a traceback. The caller's handler (Python's KeyboardInterrupt, the
    # CLI's) stops the run as SIGTERM does, and stopping the session cancels its jobs.
    if sigint_before is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, sigint_before)
    session.sparkContext.setLogLevel("ERROR")  # WARN chatter (e.g. globbed paths) is noise
    try:
        yield session
    except BaseException as error:
        interrupt = interrupt_behind(error)
        # py4j closes its connection to the JVM on a Ctrl-C (or the CLI's SIGTERM, raised
        # as one), and a driver JVM that died (out of memory, killed) answers nothing:
        # stopping may then fail, and must not replace the error that counts with its own
        # (nor add pyspark's "Unable to cleanly shutdown Spark JVM process" warning to it).
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session.stop()
        if interrupt is None or interrupt is error:
            raise
        raise interrupt from None
    session.stop()


def _quiet_driver_conf(master: str) -> dict[str, str]:
    """Driver settings that keep a healthy local run silent on stderr (cron mails any output).

    Spark's default log4j profile logs at WARN from the JVM's start, before setLogLevel can
    run: the host name, the native-hadoop library, the log level itself. The package's own
    profile (analytics/data/spark-log4j2.properties) writes nothing but FATAL: a failed job
    reaches the caller as an exception, and the CLI says it in one line. It is given as
    spark.driver.extraJavaOptions, which REPLACES that option of spark-defaults.conf (a
    cluster's GC flags, truststore, OnOutOfMemoryError), so only to a local master of an
    installation with no set-up of its own (`_own_spark_setup`); a cluster is left alone.
    A local master is bound to the loopback address, unless SPARK_LOCAL_IP or
    SPARK_LOCAL_HOSTNAME choose: nothing else reaches its driver, and Spark then has no
    network address to warn about."""
    if not _is_local_master(master):
        return {}
    quiet: dict[str, str] = {}
    if not _own_spark_setup():
        profile = Path(__file__).parent / "data" / "spark-log4j2.properties"
        # A URI: extraJavaOptions is split at spaces, which a file: URI holds as %20.
        quiet["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={profile.as_uri()}"
    if not {"SPARK_LOCAL_IP", "SPARK_LOCAL_HOSTNAME"} & os.environ.keys():
        quiet["spark.driver.bindAddress"] = quiet["spark.driver.host"] = "127.0.0.1"
    return quiet


def _is_local_master(master: str) -> bool:
    """`local`, `local[N]`, `local[*]`, `local[N,F]`: not `local-cluster[...]`, a cluster."""
    return master == "local" or master.startswith("local[")


# A log4j2 set-up in the conf folder, which Spark puts on the classpath, where log4j2 finds it
# (log4j2.properties, log4j2.xml, log4j2-test.yaml, ...; not Spark's *.template files).
_LOG4J2_CONFIG = re.compile(r"log4j2.*\.(properties|xml|yaml|yml|json|jsn)")


def _own_spark_setup() -> bool:
    """Whether the Spark installation's conf folder (SPARK_CONF_DIR, or $SPARK_HOME/conf) has
    a spark-defaults.conf (whose extraJavaOptions the profile's would replace) or a log4j2
    set-up of any kind (.properties, .xml, .yaml, .json): then it is the installation's."""
    home = os.environ.get("SPARK_HOME")
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (os.path.join(home, "conf") if home else "")
    if not conf_dir:
        return False
    try:
        names = os.listdir(conf_dir)
    except OSError:  # no such folder (a pip-installed pyspark has none): nothing of its own
        return False
    return any(
        name == "spark-defaults.conf" or _LOG4J2_CONFIG.fullmatch(name) is not None
        for name in names
    )


def interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt `error` is, or arose while handling (or None).

    A Ctrl-C or SIGTERM that lands in a py4j call can come out as another error: pyspark's
    clean-up after the call (SCCallSiteSync) talks to the JVM over a new connection, which
    fails ("Answer from Java side is empty"), and that error was what reached the CLI: a
    traceback and exit 1 instead of "stopped by SIGTERM" (exit 143)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def _java_first_line(error: Any) -> str:
    # str() of a Py4JJavaError starts with "An error occurred while calling o204.open.";
    # the Java exception's own toString() says what went wrong.
    with contextlib.suppress(Exception):
        return first_line(RuntimeError(str(error.java_exception.toString())))
    return first_line(error)


def _hadoop_spelling(location: str) -> str:
    """A file: URL as Hadoop takes it: ``file://localhost/abs`` as ``file:///abs``, the same
    folder (RFC 8089), and the scheme and the host in any case (``FILE://LOCALHOST/abs``,
    RFC 3986 3.1 and 3.2.2) as ``file:``. Hadoop refused the host ("Wrong FS:
    file://localhost/…, expected: file:///") and knows no file system for the scheme
    ``FILE``; both were read as a relative folder (`localhost/abs`) or a remote one here.
    Any other location is itself."""
    scheme, colon, rest = location.partition(":")
    if not colon or scheme.lower() != "file":
        return location
    if rest[: len("//localhost/")].lower() == "//localhost/":
        rest = "///" + rest[len("//localhost/") :]
    return "file:" + rest


def _local_folder(location: str) -> str | None:
    """The local path a spool or output location names, None for a remote one: a plain
    path, ``file:///abs`` (or ``file://localhost/abs``) or Hadoop's own spelling
    ``file:/abs``, the scheme and the host in any case."""
    location = _hadoop_spelling(location)
    if location.startswith("file://"):
        return location.removeprefix("file://")
    if location.startswith("file:"):
        return location.removeprefix("file:")
    return None if "://" in location else location


def read_spool(
    spark: Any,
    spool: str,
    *,
    timezone: str = "UTC",
    days: Iterable[date] | None = None,
    listing: SpoolListing | None = None,
) -> Any:
    """The spool as a DataFrame of the event columns plus `day`, the local date of `ts` in
    `timezone` — the warehouse's ``CAST(timezone(tz, ts) AS DATE)``.

    The ``day=`` folder is where a segment was filed, by the recorder's UTC clock; it is
    read (Hive partition discovery) but replaced, so a site time zone moves day boundaries
    exactly as it does in the warehouse. `days` limits the read to those day folders.
    Only the segments `listing` names are read (listed now when not given).
    """
    from pyspark.sql import functions as F

    validate_timezone(timezone)
    if listing is None:
        listing = list_spool(spark, spool)
    wanted = listing.segments if days is None else set(days) & set(listing.segments)
    paths = listing.paths(spool, wanted)
    if not paths:
        return _with_day(spark.createDataFrame([], event_struct()), timezone)
    frame = (
        spark.read.schema(event_struct())
        .option("basePath", spool)
        .parquet(*[_literal(path) for path in paths])
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
    timezone: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkRollupCounts:
    """Roll up what is new in the spool on Spark; return the rows of each rollup table, and
    the segments of a newer event schema left unread (`SparkRollupCounts.newer_schema`).

    The first run computes every day; later runs recompute only the local days that new
    segments touch and replace just those day partitions (see the module's docstring).
    `timezone` defaults to the one the output was made with (UTC for a new output); another
    one is refused, since it would move every day boundary: use a new output folder.
    """
    if timezone is not None:
        validate_timezone(timezone)
    spool = _hadoop_spelling(spool)
    output = _hadoop_spelling(output_dir).rstrip("/")
    with spark_session(master, conf=conf) as spark:
        from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
        from pyspark.errors import PySparkException

        try:
            manifest = _read_manifest_via(spark, f"{output}/{MANIFEST}")
            timezone = _settled_timezone(manifest, timezone, output)
            # A run stopped after recording late sums and before they replaced the live
            # partitions: the staged rows are final, so applying them again is exact.
            if manifest.get("pending_late"):
                _apply_late_staging(spark, output)
            _remove_late_staging(spark, output)
            previous = _previous_days(manifest, timezone)
            listing = list_spool(spark, spool, counted=previous)
            if listing.newer:
                logger.warning(
                    "spark rollup: left %s of event schema %s in the spool, unread: "
                    "written by a newer cookiewall than this one (schema %s); upgrade it to "
                    "count them",
                    counted(len(listing.newer), "segment"),
                    ", ".join(str(v) for v in sorted(set(listing.newer.values()))),
                    SCHEMA_VERSION,
                )
            if listing.exports:
                # Their rows were counted from the segments they were made of: never twice.
                if len(listing.exports) == 1:
                    what = "an export of the warehouse, not a segment (%s); move it"
                else:
                    what = "exports of the warehouse, not segments (first: %s); move them"
                logger.warning(
                    "spark rollup: left %s in the spool unread: " + what + " out of the spool",
                    counted(len(listing.exports), "file"),
                    min(listing.exports),
                )
            segments = listing.segments
            present = {day: _fingerprint(names) for day, names in segments.items()}
            if previous is None:
                previous = _unrecorded_prunes(spark, output, present, timezone)
            if not manifest and not _holds_rollups(spark, output):
                # A new output: the run is recorded as begun (no spool day counted yet)
                # before any table is written, so that a run stopped part-way is not taken
                # next time for an output from before incremental runs, whose local days
                # next to a gap in the spool it would keep as they are, tables missing.
                _write_manifest_via(
                    spark,
                    f"{output}/{MANIFEST}",
                    {
                        "timezone": timezone,
                        "event_schema_version": SCHEMA_VERSION,
                        "tables": {},
                        "state_version": STATE_VERSION,
                        "spool_days": {},
                        **_now(),
                    },
                )
            if not present and any(not e.get("pruned") for e in previous.values()):
                logger.warning(
                    "spark rollup: no segments in %s, which had some at the last run:"
                    " nothing changed (a wrong prefix, or a share not mounted?)",
                    spool,
                )
            known = _known_names(spark, output, previous, present)
            recorded = SpoolReach.from_manifest(manifest)
            reach = (recorded or SpoolReach()).merged(
                _scan_reach(
                    spark,
                    spool,
                    listing,
                    # An output from before the reach was recorded: every day, once.
                    segments if recorded is None else _reach_unknown(segments, previous),
                )
            )
            plan = plan_days(
                present,
                previous,
                timezone,
                names=segments,
                known=known,
                reach=reach,
                reach_unrecorded=recorded is None,
            )
            if plan.recounted:
                logger.info(
                    "spark rollup: recomputing local days %s: counted before this version"
                    " without the events filed under another day's spool folder",
                    _day_list(plan.recounted),
                )
            if plan.undercounted:
                logger.warning(
                    "spark rollup: local days %s lack the events filed under another day's"
                    " spool folder (counted before this version) and stay so: a spool day"
                    " they need was pruned; a rollup into a new output folder counts what"
                    " the spool still holds",
                    _day_list(plan.undercounted),
                )
            for day in plan.late:
                if day in plan.late_segments:
                    logger.info(
                        "spark rollup: adding %s of spool day %s, which was"
                        " pruned, to its rollups (visitors may count someone twice)",
                        counted(len(plan.late_segments[day]), "late segment"),
                        day,
                    )
                else:
                    logger.warning(
                        "spark rollup: new segments in spool day %s, which was pruned: not"
                        " counted (its rollups stay as they were)",
                        day,
                    )
            for day in sorted(plan.overlap_days):
                logger.info(
                    "spark rollup: adding the events of %s to local day %s,"
                    " which overlaps a pruned spool day (visitors may count someone twice)",
                    counted(
                        sum(
                            len(names)
                            for utc_day, names in plan.overlap_segments.items()
                            if day in plan.reach.local_days(utc_day, ZoneInfo(timezone))
                        ),
                        "new segment",
                    ),
                    day,
                )
            for day in plan.uncounted:
                logger.warning(
                    "spark rollup: local day %s not recomputed: a spool day it overlaps was"
                    " pruned (its rollups stay as they were)",
                    day,
                )
            _add_referrer_domains(spark, spool, output, plan, timezone, listing)
            _add_mix_tables(spark, spool, output, plan, timezone, listing)
            if plan.local_days:
                _roll_up_days(spark, spool, output, plan, timezone, listing)
            record: dict[str, Any] = {
                "timezone": timezone,
                "event_schema_version": SCHEMA_VERSION,
                "tables": manifest.get("tables", {}),
                "recomputed_days": len(plan.local_days),
                "late_segments": sum(len(names) for names in plan.late_segments.values()),
                "overlap_segments": sum(len(n) for n in plan.overlap_segments.values()),
                "state_version": STATE_VERSION,
                "spool_days": plan.state,
                "reach": plan.reach.to_json(),
            }
            if (plan.late_segments or plan.overlap_segments) and _stage_late_sums(
                spark, spool, output, plan, timezone, listing
            ):
                # The new state (these names counted) and the staged sums, recorded
                # together before the live partitions change: see the module docstring.
                _write_manifest_via(
                    spark, f"{output}/{MANIFEST}", {**record, "pending_late": True, **_now()}
                )
                _apply_late_staging(spark, output)
            counts = {table: _rows_in(spark, f"{output}/{table}") for table in ROLLUP_TABLES}
            kept = _write_known_names(spark, output, plan.state, segments)
            _write_manifest_via(
                spark, f"{output}/{MANIFEST}", {**record, "tables": counts, **_now()}
            )
            _remove_late_staging(spark, output)
            _remove_stale_names(spark, output, kept)
        except PySparkException as error:
            raise SparkRollupError(f"Spark rollup failed: {first_line(error)}") from None
        except Py4JJavaError as error:  # Hadoop FileSystem calls made directly (the manifest)
            raise SparkRollupError(f"Spark rollup failed: {_java_first_line(error)}") from None
    return SparkRollupCounts(counts, newer_schema=listing.newer, not_segments=listing.exports)


def _day_list(days: Iterable[date], shown: int = 10) -> str:
    """Days for one log line: the first `shown`, then how many more (years of them, maybe)."""
    ordered = sorted(days)
    text = ", ".join(day.isoformat() for day in ordered[:shown])
    return text if len(ordered) <= shown else f"{text} and {len(ordered) - shown} more"


def _reach_unknown(
    segments: Mapping[date, tuple[str, ...]], previous: Mapping[date, Mapping[str, Any]]
) -> list[date]:
    """The spool days holding segments whose events' days the last run did not see: new
    days, and days with segments other than those it counted."""
    unknown = []
    for day, names in segments.items():
        entry = previous.get(day)
        if entry is None:
            unknown.append(day)
        elif entry.get("pruned"):
            counted = entry.get("counted")
            if not isinstance(counted, list) or not set(names) <= set(counted):
                unknown.append(day)
        elif _fingerprint(names) != (entry.get("count"), entry.get("digest")):
            unknown.append(day)
    return unknown


def _scan_reach(
    spark: Any, spool: str, listing: SpoolListing, days: Iterable[date]
) -> dict[date, set[date]]:
    """The UTC days the events of each spool day of `days` fall on, from its segments' `ts`
    (one column read: a small part of what the rollup reads)."""
    from urllib.parse import unquote

    from pyspark.sql import functions as F

    days = sorted(days)
    paths = listing.paths(spool, days)
    if not paths:
        return {}
    day_of_folder = {
        listing.folder_of(day, name): day for day in days for name in listing.segments[day]
    }
    frame = (
        spark.read.schema(event_struct())
        .option("basePath", spool)
        .parquet(*[_literal(path) for path in paths])
    )
    # The folder from each file's path (a URI: percent-encoded); the UTC date from the
    # instant's microseconds, whatever session time zone spark-submit gave.
    folder = F.regexp_extract(F.col("_metadata.file_path"), r"([^/]+)/[^/]*$", 1)
    utc = F.expr("date_from_unix_date(CAST(floor(unix_micros(ts) / 86400000000) AS INT))")
    found = (
        frame.select(folder.alias("folder"), utc.alias("utc"))
        .where(F.col("utc").isNotNull())
        .distinct()
        .collect()
    )
    reach: dict[date, set[date]] = {}
    for row in found:
        name = unquote(str(row["folder"]))
        if name not in day_of_folder:
            raise SparkRollupError(f"Spark read a segment in {name!r}, a folder not listed")
        reach.setdefault(day_of_folder[name], set()).add(row["utc"])
    return reach


def _now() -> dict[str, str]:
    return {"written_at": datetime.now(UTC).isoformat(timespec="seconds")}


def _roll_up_days(
    spark: Any, spool: str, output: str, plan: DayPlan, timezone: str, listing: SpoolListing
) -> None:
    from pyspark.sql import functions as F

    events = read_spool(spark, spool, timezone=timezone, days=plan.read_days, listing=listing)
    wanted = [d.isoformat() for d in sorted(plan.local_days)]
    # Five rollups read the same events: cached once (spilling to disk when large)
    # instead of scanning the spool five times.
    events = events.filter(F.col("day").isin(wanted)).cache()
    events.createOrReplaceTempView("scoped_events")
    try:
        for table in ROLLUP_TABLES:
            rollup = spark.sql(read_sql(f"rollup_{table}.sql"))
            # Dynamic: only the day partitions this run wrote are replaced; every other
            # day (unchanged, or pruned from the spool) keeps its files.
            rollup.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(
                "day"
            ).parquet(f"{output}/{table}")
    finally:
        spark.catalog.dropTempView("scoped_events")
        events.unpersist()


def _add_referrer_domains(
    spark: Any, spool: str, output: str, plan: DayPlan, timezone: str, listing: SpoolListing
) -> None:
    """Write daily_referrer_domains for an output made before that table existed (it has
    daily_referrers rows and no daily_referrer_domains rows), as the warehouse fills it: a
    local day whose spool days are all still whole is computed from its segments, exactly;
    any other day gets the sum over media of its daily_referrers rows (visitors possibly
    counting someone twice). One write of the whole table, so a stopped run leaves it
    absent (and this runs again) or complete. The days this run recomputes anyway are
    overwritten by `_roll_up_days` right after."""
    from pyspark.sql import functions as F

    table = "daily_referrer_domains"
    target = f"{output}/{table}"
    if _has_rows(spark, target) or not _has_rows(spark, f"{output}/daily_referrers"):
        return
    zone = ZoneInfo(timezone)
    rebuilt = _whole_local_days(plan, zone, listing)
    schema = _rollup_schema(spark, table)
    spark.read.parquet(_literal(f"{output}/daily_referrers")).createOrReplaceTempView(
        "daily_referrers"
    )
    try:
        rows = spark.sql(REFERRER_DOMAINS_FALLBACK)
        if rebuilt:
            wanted = [day.isoformat() for day in rebuilt]
            read = {day for local in rebuilt for day in plan.reach.folders(local, zone)}
            events = read_spool(spark, spool, timezone=timezone, days=read, listing=listing)
            events.filter(F.col("day").isin(wanted)).createOrReplaceTempView("scoped_events")
            fresh = spark.sql(read_sql(f"rollup_{table}.sql"))
            rows = rows.filter(~F.col("day").isin(wanted)).unionByName(fresh)
        # The measures' nullability as the rollup gives it (see _apply_late_staging).
        columns = [
            F.coalesce(F.col(f.name), F.lit(0).cast(f.dataType)).alias(f.name)
            if not f.nullable and f.name in MEASURES
            else F.col(f.name)
            for f in schema.fields
        ]
        rows.select(*columns).write.mode("overwrite").partitionBy("day").parquet(target)
    finally:
        spark.catalog.dropTempView("daily_referrers")
        spark.catalog.dropTempView("scoped_events")
    logger.info(
        "spark rollup: added daily_referrer_domains to an output made before it (%s"
        " from the spool, the rest summed over media from daily_referrers)",
        counted(len(rebuilt), "local day"),
    )


def _whole_local_days(plan: DayPlan, zone: ZoneInfo, listing: SpoolListing) -> list[date]:
    """The local days whose spool days all still hold every segment counted, so that the
    spool alone gives them exactly; less the days this run recomputes anyway."""
    whole = {
        day
        for key, entry in plan.state.items()
        if isinstance(entry, dict)
        and not entry.get("pruned")
        and (day := date.fromisoformat(key)) in listing.segments
    }
    # A UTC day the state never had (no segment ever, none pruned) leaves nothing out of a
    # local day it reaches: the first and last local days of a zone's data reach one.
    recorded = {date.fromisoformat(key) for key in plan.state}
    return sorted(
        local
        for local in {local for day in whole for local in plan.reach.local_days(day, zone)}
        if all(
            day in whole or (day not in recorded and day not in listing.segments)
            for day in plan.reach.folders(local, zone)
        )
        and local not in plan.local_days
    )


def _days_with_pageviews(spark: Any, output: str, days: Iterable[Any] | None = None) -> set[str]:
    """The days (ISO text) that daily_totals gives pageviews, of `days` if given."""
    from pyspark.sql import functions as F

    target = f"{output}/daily_totals"
    if not _has_rows(spark, target):
        return set()
    totals = spark.read.parquet(_literal(target)).filter(F.col("pageviews") > 0)
    if days is not None:
        totals = totals.filter(F.col("day").isin([str(d) for d in days]))
    return {str(row[0]) for row in totals.select("day").distinct().collect()}


def _days_without_mix(spark: Any, output: str, days: Iterable[Any]) -> dict[str, list[str]]:
    """Of `days`, those with pageviews but no row in each mix table: days pruned before an
    output had the mix (made before warehouse schema 2), whose late events alone would pass
    for the whole day's mix. The same rule as the warehouse's `without_mix`."""
    from pyspark.sql import functions as F

    with_pageviews = _days_with_pageviews(spark, output, days)
    if not with_pageviews:
        return {}
    without: dict[str, list[str]] = {}
    for table in MIX_TABLES:
        target = f"{output}/{table}"
        having: set[str] = set()
        if _has_rows(spark, target):
            mix = spark.read.parquet(_literal(target)).filter(
                F.col("day").isin(sorted(with_pageviews))
            )
            having = {str(row[0]) for row in mix.select("day").distinct().collect()}
        if missing := sorted(with_pageviews - having):
            without[table] = missing
    return without


def _add_mix_tables(
    spark: Any, spool: str, output: str, plan: DayPlan, timezone: str, listing: SpoolListing
) -> None:
    """Write daily_devices and daily_consent for an output made before those tables (no rows
    in one, pageviews in daily_totals), as the warehouse's schema-2 migration fills them: a
    local day whose spool days are all still whole is computed from its segments, exactly;
    any other day stays without rows (no sum of other rollups gives a device or a consent
    mix; the late-segment guard keeps it so). One write of each table, so a stopped run
    leaves it absent (and this runs again) or complete. The days this run recomputes anyway
    are written by `_roll_up_days` right after."""
    from pyspark.sql import functions as F

    tables = [table for table in MIX_TABLES if not _has_rows(spark, f"{output}/{table}")]
    if not tables or not _days_with_pageviews(spark, output):
        return
    zone = ZoneInfo(timezone)
    rebuilt = _whole_local_days(plan, zone, listing)
    if rebuilt:
        wanted = [day.isoformat() for day in rebuilt]
        read = {day for local in rebuilt for day in plan.reach.folders(local, zone)}
        events = read_spool(spark, spool, timezone=timezone, days=read, listing=listing)
        schemas = {table: _rollup_schema(spark, table) for table in tables}
        events = events.filter(F.col("day").isin(wanted)).cache()
        events.createOrReplaceTempView("scoped_events")
        try:
            for table in tables:
                rows = spark.sql(read_sql(f"rollup_{table}.sql"))
                # The measures' nullability as the rollup gives it (see _apply_late_staging).
                columns = [
                    F.coalesce(F.col(f.name), F.lit(0).cast(f.dataType)).alias(f.name)
                    if not f.nullable and f.name in MEASURES
                    else F.col(f.name)
                    for f in schemas[table].fields
                ]
                rows.select(*columns).write.mode("overwrite").partitionBy("day").parquet(
                    f"{output}/{table}"
                )
        finally:
            spark.catalog.dropTempView("scoped_events")
            events.unpersist()
    logger.info(
        "spark rollup: added %s to an output made before them (%s from the"
        " spool; days whose spool days were pruned have no device or consent figures)",
        " and ".join(tables),
        counted(len(rebuilt), "local day"),
    )


def _stage_late_sums(
    spark: Any, spool: str, output: str, plan: DayPlan, timezone: str, listing: SpoolListing
) -> bool:
    """Write, under ``<output>/_late_rollups/<table>``, the local days that the late segments
    touch as they must become: their rows now plus the rollups of those segments alone,
    summed per key. The overlap segments count only in the overlap days (their other local
    days were recomputed with them). False when there are no such events (nothing to add)."""
    from pyspark.sql import functions as F

    def events_of(segments: Mapping[date, tuple[str, ...]]) -> Any:
        base = spool.rstrip("/")
        files = [
            _literal(f"{base}/{listing.folder_of(d, n)}/{n}") for d in segments for n in segments[d]
        ]
        frame = spark.read.schema(event_struct()).option("basePath", spool).parquet(*files)
        return _with_day(frame.select(*[F.col(f.name) for f in EVENT_SCHEMA]), timezone)

    parts = []
    if plan.late_segments:
        parts.append(events_of(plan.late_segments))
    if plan.overlap_segments:
        wanted = [d.isoformat() for d in sorted(plan.overlap_days)]
        parts.append(events_of(plan.overlap_segments).filter(F.col("day").isin(wanted)))
    events = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    events = events.cache()
    try:
        touched = sorted(row[0] for row in events.select("day").distinct().collect())
        if not touched:
            return False
        # A day pruned before the output had the mix: its late events alone would pass for
        # the whole day's device/consent mix, so it stays without (as in the warehouse).
        # Asked before daily_totals takes the late events in.
        without_mix = _days_without_mix(spark, output, touched)
        events.createOrReplaceTempView("scoped_events")
        for table in ROLLUP_TABLES:
            added = spark.sql(read_sql(f"rollup_{table}.sql"))
            if table in without_mix:
                added = added.filter(~F.col("day").isin(without_mix[table]))
            columns = list(added.columns)
            keys = [c for c in columns if c not in MEASURES]
            sums = [F.sum(c).alias(c) for c in columns if c in MEASURES]
            target = f"{output}/{table}"
            both = added
            if _has_rows(spark, target):
                current = spark.read.parquet(_literal(target)).filter(F.col("day").isin(touched))
                both = current.select(*columns).unionByName(added)
            summed = both.groupBy(*keys).agg(*sums).select(*columns)
            summed.write.mode("overwrite").partitionBy("day").parquet(
                f"{output}/{LATE_STAGING}/{table}"
            )
    finally:
        spark.catalog.dropTempView("scoped_events")
        events.unpersist()
    return True


def _apply_late_staging(spark: Any, output: str) -> None:
    """Replace the live partitions with the staged ones: the same rows however often it
    runs, which is what makes a rerun after a stop exact."""
    from pyspark.sql import functions as F

    for table in ROLLUP_TABLES:
        staged = f"{output}/{LATE_STAGING}/{table}"
        if not _has_rows(spark, staged):
            continue
        # Spark reads every Parquet column back as nullable; the rollup's own schema says
        # which measures are never NULL (COUNTs), and their files must say so as the other
        # partitions' do: a sum over rows is never NULL, so the COALESCE changes no value.
        frame = spark.read.parquet(_literal(staged))
        columns = [
            F.coalesce(F.col(f.name), F.lit(0).cast(f.dataType)).alias(f.name)
            if not f.nullable and f.name in MEASURES
            else F.col(f.name)
            for f in _rollup_schema(spark, table).fields
        ]
        frame.select(*columns).write.mode("overwrite").option(
            "partitionOverwriteMode", "dynamic"
        ).partitionBy("day").parquet(f"{output}/{table}")


def _rollup_schema(spark: Any, table: str) -> Any:
    """The StructType that ``rollup_<table>.sql`` gives (analysed over no events, not run)."""
    empty = _with_day(spark.createDataFrame([], event_struct()), "UTC")
    empty.createOrReplaceTempView("scoped_events")
    try:
        return spark.sql(read_sql(f"rollup_{table}.sql")).schema
    finally:
        spark.catalog.dropTempView("scoped_events")


def _remove_late_staging(spark: Any, output: str) -> None:
    path, fs = _hadoop_path(spark, f"{output}/{LATE_STAGING}")
    if fs.exists(path):
        fs.delete(path, True)


@dataclass(frozen=True)
class SpoolReach:
    """The UTC days each spool day folder's events fall on besides its own: a segment filed
    under one day can hold events of another (sealed just after midnight, or written by a
    host whose clock is off). The warehouse counts each event by its `ts`; so does Spark, by
    reading a local day from every folder whose events reach it."""

    # folder day -> the other UTC days its segments' `ts` fall on (only folders with any)
    extra: Mapping[date, frozenset[date]] = field(default_factory=dict)

    @functools.cached_property
    def _folders_reaching(self) -> dict[date, set[date]]:
        reaching: dict[date, set[date]] = {}
        for folder, days in self.extra.items():
            for utc in days:
                reaching.setdefault(utc, set()).add(folder)
        return reaching

    def utc_days(self, folder: date) -> frozenset[date]:
        return frozenset({folder, *self.extra.get(folder, ())})

    def local_days(self, folder: date, zone: ZoneInfo) -> set[date]:
        """The local days the events of spool day `folder` fall on (or may: its own)."""
        return {local for utc in self.utc_days(folder) for local in _local_days_of(utc, zone)}

    def folders(self, local: date, zone: ZoneInfo) -> set[date]:
        """The spool days whose segments may hold events of local day `local`."""
        utc_days = _utc_days_of(local, zone)
        return utc_days.union(*(self._folders_reaching.get(utc, set()) for utc in utc_days))

    def merged(self, scanned: Mapping[date, Iterable[date]]) -> SpoolReach:
        """This reach with what a scan found added (never removed: a pruned segment's
        events stay in the rollups, so its day's reach stays too)."""
        extra = {folder: set(days) for folder, days in self.extra.items()}
        for folder, days in scanned.items():
            extra.setdefault(folder, set()).update(d for d in days if d != folder)
        return SpoolReach({folder: frozenset(days) for folder, days in extra.items() if days})

    def to_json(self) -> dict[str, list[str]]:
        return {
            folder.isoformat(): sorted(d.isoformat() for d in days)
            for folder, days in sorted(self.extra.items())
        }

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> SpoolReach | None:
        """As the last run recorded it; None for an output made before it was recorded."""
        recorded = manifest.get("reach")
        if not isinstance(recorded, dict):
            return None
        extra: dict[date, frozenset[date]] = {}
        for key, days in recorded.items():
            with contextlib.suppress(TypeError, ValueError):
                extra[date.fromisoformat(key)] = frozenset(date.fromisoformat(d) for d in days)
        return cls(extra)


@dataclass(frozen=True)
class DayPlan:
    """What one run does: the local days it recomputes and the spool (UTC) days it reads."""

    local_days: frozenset[date]
    read_days: frozenset[date]
    skipped: tuple[date, ...]  # touched by new segments, but overlapping a pruned spool day
    late: tuple[date, ...]  # pruned spool days that got segments since the last run
    state: dict[str, Any]  # the spool as the manifest will remember it
    # Of `late`, the segments to add to the rollups, by name; a late day missing here cannot
    # be told apart from what was counted (no names known) and is only reported.
    late_segments: Mapping[date, tuple[str, ...]] = field(default_factory=dict)
    # The segments a grown (unpruned) spool day gained, by name, when they reach a local day
    # in `skipped`: their events in `overlap_days` are added like late ones; the other local
    # days they reach are recomputed.
    overlap_segments: Mapping[date, tuple[str, ...]] = field(default_factory=dict)
    overlap_days: frozenset[date] = frozenset()
    # Of `skipped`, the local days that a changed spool day reaches without its new segments
    # being known by name: those events are not counted (reported only).
    uncounted: tuple[date, ...] = ()
    # The other UTC days each spool day's events fall on, as this run knows them.
    reach: SpoolReach = field(default_factory=SpoolReach)
    # With `reach_unrecorded`: the local days an older version counted without the events
    # filed under another spool day's folder, recomputed now (they are in `local_days`)...
    recounted: frozenset[date] = frozenset()
    # ... and those it cannot recompute (a spool day they need was pruned): reported only.
    undercounted: tuple[date, ...] = ()


def plan_days(
    present: Mapping[date, tuple[int, str]],
    previous: Mapping[date, Mapping[str, Any]],
    timezone: str,
    *,
    names: Mapping[date, Iterable[str]] | None = None,
    known: Mapping[date, Iterable[str]] | None = None,
    reach: SpoolReach | None = None,
    reach_unrecorded: bool = False,
) -> DayPlan:
    """Which local days to recompute, from the spool days now (`present`: day -> (segment
    count, digest of their names)) and as the last run saw them (`previous`).

    A spool day is new, grown (late segments: recompute what it touches), unchanged, or
    pruned (gone, or fewer or other segments than before: it stays pruned for good, so that
    a late segment landing in it later cannot make a partial day look whole).

    With `names` (each present day's segment names), a pruned day remembers the names it
    has had counted (``counted``), and segments found in it later under other names are
    late: listed in `late_segments`, to be added to the rollups, and counted from then on.
    A pruned day recorded without names (an older manifest) takes the names it has now as
    counted, and a rise in its count is only reported, as before.

    With `known` too (the names an unpruned day had when the last run counted it), a day
    whose segments changed is told apart: one that only gained is grown (recomputed); one
    that lost any is pruned from now on, and the segments it gained are late (added, never
    recomputed from what is left). Without its names, a higher count reads as grown.

    A grown day's local days that overlap a pruned spool day are not recomputed either: with
    its names known, the segments it gained are in `overlap_segments`, their events in those
    local days (`overlap_days`) to be added like late ones.

    With `reach` (the other UTC days each spool day's events fall on), a spool day changing
    touches the local days of all its events, and a local day depends on (is read from, and
    is never recomputed when one is pruned) every spool day whose events reach it.

    With `reach_unrecorded` (rollups counted before the reach was recorded, which read a
    local day only from the spool days it overlaps), the local days that `reach` says other
    spool days' events fall on lack those events: they are recomputed too (`recounted`),
    unless a spool day they need is pruned (`undercounted`, reported only). Once recorded,
    the reach changes only with new segments, whose local days are recomputed as above.
    """
    zone = ZoneInfo(timezone)
    reach = reach or SpoolReach()
    state: dict[str, Any] = {day.isoformat(): dict(entry) for day, entry in previous.items()}
    if not present:
        # An empty listing of a spool that had data is far likelier an unmounted share or a
        # wrong prefix than every day pruned at once: marking them all pruned for good would
        # drop every segment that shows up later. Nothing to do, and nothing forgotten.
        return DayPlan(frozenset(), frozenset(), (), (), state, reach=reach)
    pruned = {day for day, entry in previous.items() if entry.get("pruned")}
    newly_pruned: set[date] = set()
    changed: set[date] = set()
    late: list[date] = []
    late_segments: dict[date, tuple[str, ...]] = {}
    gained: dict[date, tuple[str, ...]] = {}
    for day, entry in previous.items():
        if day not in present and not entry.get("pruned"):
            newly_pruned.add(day)
    for day, (count, digest) in present.items():
        before = previous.get(day)
        unchanged = before is not None and (before.get("count"), before.get("digest")) == (
            count,
            digest,
        )
        if before is None:
            changed.add(day)
        elif before.get("pruned"):
            counted = before.get("counted")
            if names is not None and isinstance(counted, list):
                here = set(names.get(day, ()))
                new = tuple(sorted(here - set(counted)))
                if new:
                    late.append(day)  # added to the rollups, never recomputed
                    late_segments[day] = new
                    state[day.isoformat()] = _pruned_entry(count, here | set(counted))
                continue
            if count > int(before.get("count", 0)):
                late.append(day)  # which of its segments are new is unknown: reported only
            if names is not None:  # an older record: what is here now counts as counted
                state[day.isoformat()] = _pruned_entry(count, names.get(day, ()))
            elif count > int(before.get("count", 0)):
                state[day.isoformat()] = {"pruned": True, "count": count}
            continue
        elif unchanged:
            continue
        elif names is not None and known is not None and day in known:
            here, had = set(names.get(day, ())), set(known[day])
            if had - here:
                # Lost some (a lifecycle rule) and perhaps gained others (a late host):
                # what is left is part of the day; what is new is added to its rollups.
                newly_pruned.add(day)
                if here - had:
                    late.append(day)
                    late_segments[day] = tuple(sorted(here - had))
                continue
            changed.add(day)  # only gained: late arrivals, the day is whole
            gained[day] = tuple(sorted(here - had))
        elif count > int(before.get("count", 0)):
            changed.add(day)  # more segments than before: late arrivals (names never repeat)
        else:
            newly_pruned.add(day)
            continue
        state[day.isoformat()] = {"count": count, "digest": digest}
    for day in newly_pruned:
        # What is left now was counted; a segment under another name later is late.
        left = present.get(day, (0, ""))[0]
        state[day.isoformat()] = (
            {"pruned": True, "count": left}
            if names is None
            else _pruned_entry(left, names.get(day, ()))
        )
    pruned |= newly_pruned

    local_days: set[date] = set()
    read_days: set[date] = set()
    skipped: list[date] = []
    overlap_segments: dict[date, tuple[str, ...]] = {}
    overlap_days: set[date] = set()
    uncounted: list[date] = []
    for local in sorted({local for day in changed for local in reach.local_days(day, zone)}):
        overlapped = reach.folders(local, zone)
        if overlapped & pruned:
            skipped.append(local)
            reaching = overlapped & changed
            for day in reaching & gained.keys():
                overlap_segments[day] = gained[day]
                overlap_days.add(local)
            if reaching - gained.keys():
                uncounted.append(local)
            continue
        local_days.add(local)
        read_days |= overlapped & set(present)
    recounted: set[date] = set()
    undercounted: list[date] = []
    if reach_unrecorded:
        for local in sorted(_reached_from_other_folders(reach, zone) - local_days):
            overlapped = reach.folders(local, zone)
            if overlapped & pruned:
                # What the pruned day held of this local day is gone: never recomputed.
                undercounted.append(local)
                continue
            recounted.add(local)
            local_days.add(local)
            read_days |= overlapped & set(present)
    return DayPlan(
        frozenset(local_days),
        frozenset(read_days),
        tuple(skipped),
        tuple(late),
        state,
        late_segments,
        overlap_segments,
        frozenset(overlap_days),
        tuple(uncounted),
        reach,
        frozenset(recounted),
        tuple(undercounted),
    )


def _reached_from_other_folders(reach: SpoolReach, zone: ZoneInfo) -> set[date]:
    """The local days that events filed under a spool day they do not overlap fall on: the
    days a rollup reading each local day only from the folders it overlaps undercounted."""
    return {
        local
        for folder, utc_days in reach.extra.items()
        for utc in utc_days
        for local in _local_days_of(utc, zone)
        if folder not in _utc_days_of(local, zone)
    }


def _pruned_entry(count: int, counted: Iterable[str]) -> dict[str, Any]:
    return {"pruned": True, "count": count, "counted": sorted(counted)}


def _local_days_of(utc_day: date, zone: ZoneInfo) -> set[date]:
    """The local dates that the UTC day `utc_day` reaches in `zone` (one or two)."""
    start = datetime.combine(utc_day, time(), UTC)
    last = start + timedelta(days=1) - timedelta(microseconds=1)
    return {start.astimezone(zone).date(), last.astimezone(zone).date()}


def _utc_days_of(local_day: date, zone: ZoneInfo) -> set[date]:
    """The UTC dates that the local day `local_day` of `zone` overlaps (one or two)."""
    start = datetime.combine(local_day, time(), zone)
    last = datetime.combine(local_day + timedelta(days=1), time(), zone) - timedelta(microseconds=1)
    return {start.astimezone(UTC).date(), last.astimezone(UTC).date()}


@dataclass(frozen=True)
class SpoolListing:
    """The sealed segments of each spool day, by name, and the days whose folder holds
    nothing else Spark would read (those are read as a folder, the others file by file)."""

    segments: Mapping[date, tuple[str, ...]]
    clean: frozenset[date] = frozenset()
    # (day, name) -> the folder of a segment filed under another spelling of its day than
    # day=YYYY-MM-DD ("day=20261021": Python's date.fromisoformat reads it as that day, and
    # so does the DuckDB engine's listing). Such a day is never clean.
    folders: Mapping[tuple[date, str], str] = field(default_factory=dict)
    # Segments of a newer event schema (`day=…/name` -> version), left out of `segments`: a
    # newer cookiewall's rollup counts them (see `list_spool`).
    newer: Mapping[str, int] = field(default_factory=dict)
    # Warehouse exports saved into the spool (`day=…/name`), left out of `segments`: their
    # rows were counted from the segments they were made of (see `footers.export_mark`).
    exports: frozenset[str] = frozenset()

    def folder_of(self, day: date, name: str) -> str:
        """The day folder segment `name` of `day` was found in."""
        return self.folders.get((day, name), f"{DAY_PREFIX}{day.isoformat()}")

    def paths(self, spool: str, days: Iterable[date]) -> list[str]:
        base = spool.rstrip("/")
        paths: list[str] = []
        for day in sorted(days):
            if day in self.clean:
                # one path a day: Spark lists it on the driver
                paths.append(f"{base}/{DAY_PREFIX}{day.isoformat()}")
            else:
                paths.extend(
                    f"{base}/{self.folder_of(day, name)}/{name}"
                    for name in self.segments.get(day, ())
                )
        return paths


def list_spool(
    spark: Any, spool: str, *, counted: Mapping[date, Mapping[str, Any]] | None = None
) -> SpoolListing:
    """Each spool day folder's sealed segments: regular files named ``*.parquet``, neither
    hidden nor temporary.

    In a local spool, as in the DuckDB ingest, a segment of a newer event schema than this
    cookiewall's is left out (`SpoolListing.newer`): Spark would read it with this schema's
    columns. Its footer is read only in days whose names differ from those the last run
    counted (`counted`: the manifest's spool days), so an unchanged day costs nothing; left
    out of the day's names, such a segment makes its day grow once a newer rollup reads it.
    A warehouse export saved into a local spool is left out the same way, found by the same
    footer read (`SpoolListing.exports`): the DuckDB ingest quarantines it, never counts it.

    A local spool is listed as the DuckDB engine lists it (`analytics.spool.list_segments`:
    a named pipe, a folder or a link to nothing named like a segment is skipped with a
    warning, never opened; SpoolError if the spool folder is missing). Any other spool
    (``s3a://``, ``hdfs://``) is listed through Hadoop's FileSystem, which has no pipes.
    Spark is then given only these files: a globbed folder would hand it everything else
    the folder holds (and count it as a segment in the manifest).
    """
    root = _local_folder(spool)
    if root is None:
        return _list_remote(spark, spool)
    found: dict[date, list[str]] = {}
    folders: dict[tuple[date, str], str] = {}
    listed = list_segments(root)
    newer, exports = _segments_not_to_read(listed, counted or {})
    for segment in listed:
        if segment.name in newer or segment.name in exports:
            continue
        found.setdefault(segment.day, []).append(segment.path.name)
        if segment.path.parent.name != f"{DAY_PREFIX}{segment.day.isoformat()}":
            folders[(segment.day, segment.path.name)] = segment.path.parent.name
    segments = {day: tuple(sorted(names)) for day, names in found.items()}
    clean = frozenset(
        day
        for day, names in segments.items()
        if _visible_entries(Path(root) / f"{DAY_PREFIX}{day.isoformat()}") == set(names)
    )
    return SpoolListing(segments, clean, folders, newer, frozenset(exports))


def _segments_not_to_read(
    listed: Iterable[Segment], counted: Mapping[date, Mapping[str, Any]]
) -> tuple[dict[str, int], set[str]]:
    """The segments of `listed` of a newer event schema, by name, with their version, and
    the names of the warehouse exports among them; only days whose names are not those the
    last run counted are looked at (a footer read each, about 0.1 ms). A footer that cannot
    be read is Spark's to report, as before."""
    by_day: dict[date, list[Segment]] = {}
    for segment in listed:
        by_day.setdefault(segment.day, []).append(segment)
    newer: dict[str, int] = {}
    exports: set[str] = set()
    for day, segments in by_day.items():
        entry = counted.get(day, {})
        if (entry.get("count"), entry.get("digest")) == _fingerprint(s.path.name for s in segments):
            continue
        for segment in segments:
            try:
                meta = pq.read_metadata(segment.path)
                check_schema_version(meta.metadata)
            except NewerSegmentSchema as found:
                newer[segment.name] = found.version
                continue
            except Exception:  # noqa: S112 - damaged or gone: Spark's own error says so
                continue
            if export_mark(meta) is not None:
                exports.add(segment.name)
    return newer, exports


def _visible_entries(folder: Path) -> set[str] | None:
    # What Spark would read of the folder: every name but hidden and temporary ones.
    try:
        with os.scandir(folder) as entries:
            return {e.name for e in entries if not e.name.startswith((".", "_"))}
    except OSError:
        return None  # read file by file, then


def _list_remote(spark: Any, spool: str) -> SpoolListing:
    pattern, fs = _hadoop_path(spark, f"{_literal(spool.rstrip('/'))}/{DAY_PREFIX}*/*")
    found: dict[date, list[str]] = {}
    odd: set[date] = set()
    folders: dict[tuple[date, str], str] = {}
    for status in fs.globStatus(pattern) or []:
        path = status.getPath()
        name, day_name = str(path.getName()), str(path.getParent().getName())
        try:
            day = date.fromisoformat(day_name.removeprefix(DAY_PREFIX))
        except ValueError:
            continue  # not a folder the recorder writes
        if name.startswith((".", "_")):
            continue
        if not status.isFile() or not name.endswith(SEGMENT_SUFFIX):
            odd.add(day)
            if name.endswith(SEGMENT_SUFFIX):
                logger.warning(
                    "skipped %s%s/%s: not a regular file (a folder), so not a segment",
                    DAY_PREFIX,
                    day.isoformat(),
                    name,
                )
            continue
        found.setdefault(day, []).append(name)
        if day_name != f"{DAY_PREFIX}{day.isoformat()}":
            folders[(day, name)] = day_name
            odd.add(day)
    segments = {day: tuple(sorted(names)) for day, names in found.items()}
    return SpoolListing(segments, frozenset(segments) - odd, folders)


def _fingerprint(names: Iterable[str]) -> tuple[int, str]:
    ordered = sorted(names)
    return len(ordered), hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:32]


def _names_file(output: str, day: date, digest: str) -> str:
    # Named by the digest it must match: a file written by a run that stopped before its
    # manifest is never taken for the day's names, and is removed by the next full run.
    return f"{output}/{NAMES_FOLDER}/{day.isoformat()}-{digest}.txt.gz"


def _known_names(
    spark: Any,
    output: str,
    previous: Mapping[date, Mapping[str, Any]],
    present: Mapping[date, tuple[int, str]],
) -> dict[date, tuple[str, ...]]:
    """The names each unpruned spool day had at the last run, for the days whose segments
    changed since (read from beside the manifest; a day without its file is not here)."""
    known: dict[date, tuple[str, ...]] = {}
    for day, entry in previous.items():
        recorded = (entry.get("count"), entry.get("digest"))
        if entry.get("pruned") or day not in present or present[day] == recorded:
            continue
        path, fs = _hadoop_path(spark, _names_file(output, day, str(entry.get("digest"))), raw=True)
        if not fs.exists(path):
            continue  # an output from before names were kept: the count decides
        stream = fs.open(path)
        try:
            raw = bytes(stream.readAllBytes())
        finally:
            stream.close()
        try:
            names = tuple(gzip.decompress(raw).decode().split("\n"))
        except (OSError, EOFError, UnicodeDecodeError):
            continue  # damaged: as if absent
        if _fingerprint(names) == recorded:
            known[day] = names
    return known


def _write_known_names(
    spark: Any,
    output: str,
    state: Mapping[str, Any],
    segments: Mapping[date, tuple[str, ...]],
) -> set[str]:
    """Keep beside the manifest the names of each unpruned spool day as this run counted
    them (a file a day, written only when new); return the file names the state refers to.

    Many thousands of names a day on a busy site: too many for the manifest, which is read
    whole by every run, while a day's file is read only when that day's segments change."""
    folder, fs = _hadoop_path(spark, f"{output}/{NAMES_FOLDER}", raw=True)
    present = {str(s.getPath().getName()) for s in _entries(folder, fs)}
    kept: set[str] = set()
    for key, entry in state.items():
        if not isinstance(entry, dict) or entry.get("pruned"):
            continue  # a pruned day keeps its counted names in the manifest
        day, digest = date.fromisoformat(key), str(entry.get("digest"))
        name = _names_file(output, day, digest).rpartition("/")[2]
        kept.add(name)
        names = segments.get(day, ())
        if name in present or _fingerprint(names) != (entry.get("count"), digest):
            continue
        data = gzip.compress("\n".join(names).encode(), mtime=0)
        temp, final = _child(spark, folder, f".{name}.tmp"), _child(spark, folder, name)
        stream = fs.create(temp, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
        if not fs.rename(temp, final):
            raise SparkRollupError(f"cannot write {final.toString()!r}")
    return kept


def _remove_stale_names(spark: Any, output: str, kept: set[str]) -> None:
    folder, fs = _hadoop_path(spark, f"{output}/{NAMES_FOLDER}", raw=True)
    for status in _entries(folder, fs):
        if str(status.getPath().getName()) not in kept:
            fs.delete(status.getPath(), False)


def _entries(folder: Any, fs: Any) -> list[Any]:
    # listStatus, not a glob of "<folder>/*": the output's own path is no pattern.
    return list(fs.listStatus(folder)) if fs.exists(folder) else []


def _literal(path: str) -> str:
    """`path` for an API that takes a Hadoop glob (spark.read, globStatus): its pattern
    characters escaped, so a folder named "site [prod]" or "{a,b}" means itself."""
    return _GLOB_SPECIAL.sub(r"\\\g<0>", path)


def _child(spark: Any, folder: Any, name: str) -> Any:
    return spark._jvm.org.apache.hadoop.fs.Path(folder, name)


def _settled_timezone(manifest: Mapping[str, Any], asked: str | None, output: str) -> str:
    stored = manifest.get("timezone")
    if asked is None:
        return str(stored) if stored else "UTC"
    if stored and stored != asked:
        raise SparkRollupError(
            f"{output!r} was rolled up in time zone {stored!r}, not {asked!r};"
            " use a new output folder to change the time zone"
        )
    return asked


def _previous_days(
    manifest: Mapping[str, Any], timezone: str
) -> dict[date, Mapping[str, Any]] | None:
    """What the last run saw of the spool (empty for a new output's first run, begun or
    not); None for an output without that record: made by an older version, or new."""
    days = manifest.get("spool_days")
    if manifest.get("state_version") != STATE_VERSION or not isinstance(days, dict):
        return None
    if manifest.get("event_schema_version") != SCHEMA_VERSION:
        return None
    previous: dict[date, Mapping[str, Any]] = {}
    for key, entry in days.items():
        try:
            previous[date.fromisoformat(key)] = entry if isinstance(entry, dict) else {}
        except (TypeError, ValueError):
            continue
    return previous


def _unrecorded_prunes(
    spark: Any, output: str, present: Mapping[date, tuple[int, str]], timezone: str
) -> dict[date, Mapping[str, Any]]:
    """For an output that has rollups but no record of the spool (made by the version before
    incremental runs): the spool days its local days overlap that are gone now, older than
    the newest day left. They are taken as pruned, so that no local day with rollups is
    recomputed from part of its events; newer ones are days still to come."""
    if not present:
        return {}
    found = _day_partitions(spark, output)
    zone, newest = ZoneInfo(timezone), max(present)
    pruned: dict[date, Mapping[str, Any]] = {}
    for status in found:
        try:
            local = date.fromisoformat(str(status.getPath().getName()).removeprefix(DAY_PREFIX))
        except ValueError:
            continue
        for day in _utc_days_of(local, zone):
            if day not in present and day < newest:
                # Gone before any record: whatever shows up in it later is late.
                pruned[day] = _pruned_entry(0, ())
    return pruned


def _day_partitions(spark: Any, output: str) -> list[Any]:
    """The FileStatus of every rollup table's day partition in `output`."""
    pattern, fs = _hadoop_path(spark, f"{_literal(output)}/*/{DAY_PREFIX}*")
    return list(fs.globStatus(pattern) or [])


def _holds_rollups(spark: Any, output: str) -> bool:
    return bool(_day_partitions(spark, output))


def _rows_in(spark: Any, target: str) -> int:
    if not _has_rows(spark, target):
        return 0
    return int(spark.read.parquet(_literal(target)).count())


def _hadoop_path(spark: Any, uri: str, *, raw: bool = False) -> tuple[Any, Any]:
    # Hadoop's FileSystem: the same calls reach a local folder, HDFS or s3a://.
    path = spark._jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if raw:
        # The local FileSystem keeps a hidden .crc beside each file it writes and refuses to
        # read the file once anything else changed it (the older version's manifest writer,
        # an edit by hand): the manifest is JSON, checked as such, so it skips that layer.
        checksummed = spark._jvm.java.lang.Class.forName("org.apache.hadoop.fs.ChecksumFileSystem")
        if checksummed.isInstance(fs):
            fs = fs.getRawFileSystem()
    return path, fs


def _read_manifest_via(spark: Any, uri: str) -> dict[str, Any]:
    path, fs = _hadoop_path(spark, uri, raw=True)
    temporary = not fs.exists(path)
    if temporary:
        # A job stopped between deleting the old manifest and renaming the new one into
        # place leaves the new one, complete, under its temporary name.
        path = _manifest_temp(spark, uri)
        if not fs.exists(path):
            return {}
    stream = fs.open(path)
    try:
        raw = bytes(stream.readAllBytes())  # Java 9+; Spark itself needs 17
    finally:
        stream.close()
    try:
        data = json.loads(raw)
    except ValueError as error:
        if temporary:
            # Cut off while written (a crash during the first run's, empty after a power
            # loss): never renamed into place, so there is no manifest yet.
            return {}
        raise SparkRollupError(f"unreadable {MANIFEST} at {uri!r}: {error}") from None
    return data if isinstance(data, dict) else {}


def _write_manifest_via(spark: Any, uri: str, manifest: Mapping[str, Any]) -> None:
    """Written beside, then renamed over the old one: a reader sees one or the other."""
    path, fs = _hadoop_path(spark, uri, raw=True)
    temp = _manifest_temp(spark, uri)
    stream = fs.create(temp, True)
    try:
        stream.write(bytearray((json.dumps(manifest, indent=2) + "\n").encode()))
    finally:
        stream.close()
    fs.delete(path, False)
    if not fs.rename(temp, path):
        raise SparkRollupError(f"cannot write {MANIFEST} at {uri!r}")


def _manifest_temp(spark: Any, uri: str) -> Any:
    return spark._jvm.org.apache.hadoop.fs.Path(f"{uri.rpartition('/')[0]}/.{MANIFEST}.tmp")


def _has_rows(spark: Any, target: str) -> bool:
    # An empty rollup is a folder holding only _SUCCESS, or no folder: nothing to read back.
    pattern, fs = _hadoop_path(spark, f"{_literal(target)}/{DAY_PREFIX}*/*{SEGMENT_SUFFIX}")
    found = fs.globStatus(pattern)
    return found is not None and len(found) > 0


def load_spark_rollups(
    output_dir: str | os.PathLike[str], db_path: str | os.PathLike[str]
) -> dict[str, int]:
    """Create or refresh the rollup tables of a DuckDB file from Spark's Parquet output.

    The file gets the warehouse's own schema (same tables, columns and types), so
    ``analytics report --db FILE`` reads it like a warehouse. It must be a file of its own:
    one that ingests a spool would have its rollups overwritten, so it is refused.
    One transaction: readers see the old tables or the new ones. Returns rows per table.
    """
    local = _local_folder(str(output_dir))
    if local is None:
        raise SparkRollupError(
            f"Spark output {str(output_dir)!r} is not a local folder: copy it here to load it"
        )
    output = Path(local)
    if not output.is_dir():
        raise SparkRollupError(f"Spark output {str(output)!r} does not exist or is not a folder")
    manifest = _read_manifest(output)
    con = connect(db_path)
    try:
        with ctrl_c_as_keyboard_interrupt():
            counts: dict[str, int] = {}
            # The tables, the migration steps and the stamp in one transaction with the rows: a
            # load killed before its commit leaves the file as it was, never tables without a
            # version (which would later be taken for schema 1 and "migrated" again).
            con.execute("BEGIN TRANSACTION")
            try:
                if not has_table(con, "warehouse_meta"):
                    if has_any_table(con):  # some other DuckDB file (a mistyped --db)
                        raise WarehouseError(
                            f"{str(db_path)!r} is not a cookiewall warehouse (no warehouse_meta "
                            "table); load Spark rollups into a new file or one they were "
                            "loaded into"
                        )
                    con.execute(read_sql("schema.sql"))  # stamped below, with this commit
                else:
                    con.execute(read_sql("schema.sql"))  # files from before schema versions
                    migrate_schema(con, db_path)
                ingested = con.execute("SELECT COUNT(*) FROM ingested_segments").fetchall()[0][0]
                if ingested:
                    raise WarehouseError(
                        f"{str(db_path)!r} is a warehouse fed from a spool; "
                        "load Spark rollups into a DuckDB file of their own"
                    )
                con.execute(read_sql("schema_daily_referrer_domains.sql"))
                for table in ROLLUP_TABLES:  # fixed names, never text from outside
                    files = sorted(str(p) for p in output.glob(f"{table}/{DAY_PREFIX}*/*.parquet"))
                    con.execute(f"DELETE FROM {table}")
                    if files:
                        con.execute(
                            f"INSERT INTO {table} BY NAME {_READ_DAY_PARTITIONS}", {"files": files}
                        )
                    if table == "daily_referrer_domains":
                        _fill_referrer_domains(con)
                    counts[table] = int(
                        con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0]
                    )
                if "timezone" in manifest:
                    con.execute(
                        "INSERT OR REPLACE INTO warehouse_meta VALUES ('timezone', ?)",
                        [str(manifest["timezone"])],
                    )
                # The warehouse's own tables, so its schema (`connect` refused a newer one).
                con.execute(
                    "INSERT OR REPLACE INTO warehouse_meta VALUES (?, ?)",
                    [SCHEMA_VERSION_META_KEY, str(WAREHOUSE_SCHEMA_VERSION)],
                )
                # As the warehouse commits: a COMMIT that raises once durable (a full disk at
                # its checkpoint) is read back, and a loaded file is a warning, not "cannot load";
                # a checkpoint that fails after it is a warning too (it failed in silence as the
                # connection closed, the journal growing).
                db = Path(db_path)
                commit_checked(con, db, lambda: read_commit_token(db, DEFAULT_LOCK_TIMEOUT))
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("ROLLBACK")
                raise
    except WarehouseError:
        raise
    except Exception as error:  # duckdb.Error and friends: one line for the CLI
        raise WarehouseError(f"cannot load Spark rollups: {first_line(error)}") from None
    finally:
        con.close()
    return counts


def _fill_referrer_domains(con: Any) -> None:
    """Days of daily_referrers without daily_referrer_domains rows (an output made before that
    table, not rolled up since): their domains summed over media, as the warehouse does."""
    con.execute(
        "INSERT INTO daily_referrer_domains (day, site, referrer_domain, pageviews, visitors) "
        f"SELECT * FROM ({REFERRER_DOMAINS_FALLBACK}) AS summed "
        "WHERE day NOT IN (SELECT day FROM daily_referrer_domains)"
    )


def _read_manifest(output: Path) -> dict[str, Any]:
    try:
        data = json.loads((output / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}  # written by another tool, or a Spark job on a cluster: fine
    except (OSError, ValueError) as error:
        raise SparkRollupError(f"unreadable {MANIFEST} in {str(output)!r}: {error}") from None
    return data if isinstance(data, dict) else {}
