"""What a spool segment's Parquet footer says: rows, time range, columns, identity by content.

Ingest checks every segment's footer before reading any row: a segment with missing or foreign
columns is quarantined alone instead of failing the bulk read of its neighbours, and a copy of
an ingested segment under another name is known by its content id.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analytics.event import EVENT_FIELDS, EVENT_SCHEMA


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


def read_footer(path: Path) -> Footer:
    """Read `path`'s footer; raise ValueError when required columns are missing or of a
    foreign type (Arrow would cast ISO text or integers to `ts`, DuckDB does not)."""
    meta = pq.read_metadata(path)
    content_id = content_id_of(path)
    schema = meta.schema.to_arrow_schema()
    missing = set(EVENT_FIELDS) - set(schema.names)
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    for expected in EVENT_SCHEMA:
        actual = schema.field(expected.name).type
        if not _same_kind(actual, expected.type):
            raise ValueError(f"column {expected.name} is {actual}, not {expected.type}")
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
        lows.append(stats.min)
        highs.append(stats.max)
    ts_range = (min(lows), max(highs)) if lows else None
    return Footer(rows=meta.num_rows, ts_range=ts_range, content_id=content_id)
