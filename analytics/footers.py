"""What a spool segment's Parquet footer says: schema version, rows, time range, columns,
identity by content.

Ingest checks every segment's footer before reading any row: a segment of a newer event schema
than this cookiewall's is left for a newer one (`NewerSegmentSchema`), a segment with missing
or foreign columns is quarantined alone instead of failing the bulk read of its neighbours,
a copy of an ingested segment under another name is known by its content id, and a warehouse
export saved into the spool is known for one (`NotASegment`), never counted a second time.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analytics.event import EVENT_FIELDS, EVENT_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from analytics.export import EXPORT_TABLE_KEY

# The `ts` a segment may hold. A local day lies within about 16 hours of the UTC one, so
# between these instants every time zone's day is a date of the years 1 to 9999; outside
# them none can be named (Python's dates end there) and no request was ever made. A segment
# reaching beyond is damaged (epoch nanoseconds stored as microseconds, say): quarantined.
EARLIEST_TS = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TS = datetime(9999, 12, 31, tzinfo=UTC)  # excluded
_VERSION_NUMBER = re.compile(rb"[1-9][0-9]{0,8}")
# Where pyarrow's writer stores the Arrow schema it wrote from (base64 of an IPC message).
_ARROW_SCHEMA_KEY = b"ARROW:schema"


class NewerSegmentSchema(Exception):
    """The segment was written by a newer cookiewall, in event schema `version`: this one
    must neither read it (its columns may mean something else) nor quarantine it (a newer
    rollup reads it fine), so ingest leaves it in the spool as it is."""

    def __init__(self, version: int) -> None:
        super().__init__(f"event schema {version}, newer than this cookiewall's {SCHEMA_VERSION}")
        self.version = version


def check_schema_version(metadata: dict[bytes, bytes] | None) -> None:
    """Raise NewerSegmentSchema for a segment whose Parquet key-value `metadata` names a
    newer event schema than SCHEMA_VERSION, ValueError for a value that is no version
    number. A segment without the key (written by hand, or by another engine) is read as
    schema 1: its columns are checked as any segment's are."""
    text = (metadata or {}).get(SCHEMA_VERSION_KEY)
    if text is None:
        return
    if not _VERSION_NUMBER.fullmatch(text):
        shown = text.decode("utf-8", errors="backslashreplace")
        raise ValueError(f"{SCHEMA_VERSION_KEY.decode()} {shown!r} is no schema version")
    if int(text) > int(SCHEMA_VERSION):
        raise NewerSegmentSchema(int(text))


class NotASegment(Exception):
    """The file is an export of the warehouse, not a segment (see `export_mark`): its rows
    were counted from the segments it was made of, so ingest moves it aside unread."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def export_mark(meta: pq.FileMetaData) -> str | None:
    """Why the Parquet file of footer `meta`, found in the spool, is an export of the
    warehouse and not a segment, or None.

    An export names its table (`EXPORT_TABLE_KEY`); one made before it did, or by DuckDB's
    own `COPY events TO`, has the `day` column of `events`, which no segment has: a
    segment's day is its folder (a Hive partition), whoever wrote it (Spark, DuckDB and
    Arrow leave a partition column out of the files)."""
    table = (meta.metadata or {}).get(EXPORT_TABLE_KEY)
    if table is not None:
        shown = table.decode("utf-8", errors="backslashreplace")
        return f"an export of the warehouse's {shown} table, not a spool segment"
    if any(meta.schema.column(i).path == "day" for i in range(meta.num_columns)):
        return (
            "a day column, which no spool segment has: an export of the warehouse's events "
            "table, not a segment"
        )
    return None


@dataclass(frozen=True)
class Footer:
    """What a segment's Parquet footer says, so that ingest never reads the rows twice."""

    rows: int
    # min and max of `ts` over every row group; None when a row group has no statistics.
    ts_range: tuple[datetime, datetime] | None
    # What the segment holds, whatever its name (see `content_id_of`).
    content_id: str = ""


def _same_kind(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether DuckDB reads a column of type `actual` as the events column of `expected`."""
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if pa.types.is_timestamp(expected):
        return bool(pa.types.is_timestamp(actual))
    if pa.types.is_string(expected):
        return bool(pa.types.is_string(actual) or pa.types.is_large_string(actual))
    if pa.types.is_integer(expected):
        return bool(pa.types.is_integer(actual))
    return bool(actual == expected)


def check_ts_range(low: datetime, high: datetime) -> None:
    """Raise ValueError unless every `ts` from `low` to `high` lies in [EARLIEST_TS, LATEST_TS).

    Naive values are UTC (a `ts` column written without a time zone, read by DuckDB as UTC).
    """
    low, high = (when if when.tzinfo else when.replace(tzinfo=UTC) for when in (low, high))
    if low < EARLIEST_TS or high >= LATEST_TS:
        raise ValueError(
            f"ts from {low.isoformat()} to {high.isoformat()} reaches outside "
            f"{EARLIEST_TS.date()} to {LATEST_TS.date()}, where no day can be named"
        )


def content_id_of(path: Path) -> str:
    """A digest of `path`'s size and raw Parquet footer: the segment's identity by content.

    The footer holds every row group's row count, each column chunk's byte sizes and offsets
    and its min/max (`ts` to the microsecond, visitor ids, paths), and the name the segment
    was sealed under (`cookiewall.segment`, see `write_segment`): two segments never share
    one, even of equal events, while a byte-for-byte copy does. Two small reads at the end
    of a file whose footer was just parsed: no pass over the rows.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 8))
        length = int.from_bytes(handle.read(4), "little")
        handle.seek(max(0, size - 8 - length))
        digest = hashlib.blake2b(handle.read(), digest_size=16)
    digest.update(size.to_bytes(8, "little"))
    return digest.hexdigest()


def required_column_damage(meta: pq.FileMetaData) -> str | None:
    """Why `meta` is damaged when a column the event schema declares non-null, and the
    segment's own Arrow schema (the `ARROW:schema` its writer stored) too, is no longer
    REQUIRED in the Parquet schema: None when none is.

    One flipped bit in the footer turns a REQUIRED column OPTIONAL. Arrow still reads it (its
    stored schema wins), but DuckDB then reads definition levels where there are none, and the
    column's values come out as others, without an error; no page checksum covers the footer.
    A file whose writer stored no Arrow schema, or one declaring the column nullable (DuckDB,
    Spark, pandas write every column OPTIONAL), is read as its Parquet schema says: agreed."""
    stored = (meta.metadata or {}).get(_ARROW_SCHEMA_KEY)
    if stored is None:
        return None
    try:
        # Decoded here: `to_arrow_schema()` takes nullability from the Parquet schema.
        declared = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored)))
    except Exception:  # damaged too, but DuckDB does not read it: nothing to compare with
        return None
    for index in range(meta.num_columns):
        column = meta.schema.column(index)
        name = column.path
        if (
            column.max_definition_level > 0
            and name in EVENT_FIELDS
            and not EVENT_SCHEMA.field(name).nullable
            and declared.get_field_index(name) >= 0
            and not declared.field(name).nullable
        ):
            return f"column {name} is no longer required: footer damaged"
    return None


def read_footer(path: Path) -> Footer:
    """Read `path`'s footer; raise NewerSegmentSchema for a segment of a newer event schema
    (before its columns are looked at), NotASegment for a warehouse export (whatever table,
    so an export of a rollup is not taken for a damaged segment), ValueError when required
    columns are missing or of a foreign type (Arrow would cast ISO text or integers to `ts`,
    DuckDB does not), when a column its writer declared REQUIRED no longer is (see
    `required_column_damage`), or when its statistics put `ts` where no day can be named (see
    `check_ts_range`). The footer is read once for all of it."""
    meta = pq.read_metadata(path)
    check_schema_version(meta.metadata)
    export = export_mark(meta)
    if export is not None:
        raise NotASegment(export)
    content_id = content_id_of(path)
    schema = meta.schema.to_arrow_schema()
    missing = set(EVENT_FIELDS) - set(schema.names)
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    for expected in EVENT_SCHEMA:
        actual = schema.field(expected.name).type
        if not _same_kind(actual, expected.type):
            raise ValueError(f"column {expected.name} is {actual}, not {expected.type}")
    damage = required_column_damage(meta)
    if damage is not None:
        raise ValueError(damage)
    # The Parquet leaf column (an Arrow field index differs once a nested column comes first).
    ts_index = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == "ts")
    lows: list[datetime] = []
    highs: list[datetime] = []
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        if group.num_rows == 0:
            continue
        stats = group.column(ts_index).statistics
        if stats is None or not stats.has_min_max or not isinstance(stats.min, datetime):
            return Footer(rows=meta.num_rows, ts_range=None, content_id=content_id)
        # A `ts` without a zone (another writer's) is UTC, as ingest reads it.
        lows.append(stats.min if stats.min.tzinfo else stats.min.replace(tzinfo=UTC))
        highs.append(stats.max if stats.max.tzinfo else stats.max.replace(tzinfo=UTC))
    ts_range = (min(lows), max(highs)) if lows else None
    if ts_range is not None:
        check_ts_range(*ts_range)
    return Footer(rows=meta.num_rows, ts_range=ts_range, content_id=content_id)
