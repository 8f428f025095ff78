"""A flipped bit in a segment's footer that turns a REQUIRED column OPTIONAL is damage.

No page checksum covers the footer. Arrow still reads such a segment as written (the Arrow
schema its writer stored wins), but DuckDB reads the column's values as other ones, without an
error: one bit per non-null column did so in a byte-by-byte flip of a real segment. The footer
now has to say again what the writer declared; a segment whose footer does not is quarantined.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.event import EVENT_SCHEMA, to_table
from analytics.footers import read_footer
from analytics.segment_check import verify_segment
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

FIRST = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
NOT_NULL = [field.name for field in EVENT_SCHEMA if not field.nullable]


def _segment(spool: Path) -> Path:
    events = [
        DIRECT_VISIT._replace(
            ts=FIRST + timedelta(minutes=i),
            path=f"/p{i % 7}",
            device=("desktop", "mobile")[i % 2],
            consent=("granted", "undecided", "none")[i % 3],
            visitor_id=i % 11,
        )
        for i in range(60)
    ]
    return write_segment(spool, FIRST.date(), to_table(events))


def _optional_flip(data: bytes, column: str) -> bytes:
    """`data` with the one footer bit flipped that makes `column` OPTIONAL, its footer still
    readable (found by trying each bit of the footer, as bit rot would hit it)."""
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    for offset in range(footer_start, len(data) - 8):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[offset] ^= 1 << bit
            try:
                schema = pq.read_metadata(io.BytesIO(bytes(damaged))).schema
                levels = {
                    schema.column(i).path: schema.column(i).max_definition_level
                    for i in range(len(schema))
                }
            except (OSError, ValueError, pa.ArrowException):
                continue  # a flip that breaks the footer: found by any read
            others = [name for name in NOT_NULL if name != column and levels.get(name) != 0]
            if levels.get(column) == 1 and not others:
                return bytes(damaged)
    raise AssertionError(f"no bit of the footer makes {column} optional")


def _duckdb_rows(path: Path) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def _duckdb_rows_or_error(path: Path) -> list[tuple[object, ...]] | str:
    try:
        return _duckdb_rows(path)
    except duckdb.Error as exc:
        return str(exc)


@pytest.mark.parametrize("column", ["ts", "site", "path", "device", "consent"])
def test_a_required_column_turned_optional_is_damage(tmp_path: Path, column: str) -> None:
    segment = _segment(tmp_path / "spool")
    good_rows = _duckdb_rows(segment)
    segment.write_bytes(_optional_flip(segment.read_bytes(), column))
    assert verify_segment(segment) == f"column {column} is no longer required: footer damaged"
    with pytest.raises(ValueError, match=f"column {column} is no longer required"):
        read_footer(segment)
    # Why it matters: DuckDB does not read it as written: as other values (a byte-by-byte
    # flip of other segments showed it), or with an error failing the bulk read of them all.
    assert _duckdb_rows_or_error(segment) != good_rows


def test_the_warehouse_quarantines_it_and_counts_no_other_values(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    segment = _segment(spool)
    segment.write_bytes(_optional_flip(segment.read_bytes(), "consent"))
    warehouse = Warehouse(tmp_path / "wh.duckdb", clock=fixed_clock(FIRST + timedelta(days=2)))
    result = warehouse.run(spool)
    assert len(result.ingest.quarantined) == 1
    assert list_segments(spool) == []
    assert table_rows(tmp_path / "wh.duckdb", "events") == set()


@pytest.mark.parametrize("store_schema", [True, False])
def test_a_segment_whose_writer_declared_columns_nullable_still_passes(
    tmp_path: Path, store_schema: bool
) -> None:
    # Spark and pandas write every column OPTIONAL, some writers store no Arrow schema: such a
    # footer agrees with itself, and DuckDB reads it right.
    segment = _segment(tmp_path / "spool")
    table = pq.read_table(segment)
    nullable = pa.schema([field.with_nullable(True) for field in table.schema])
    other = tmp_path / "other-writer.parquet"
    pq.write_table(table.cast(nullable), other, store_schema=store_schema)
    assert pq.read_metadata(other).schema.column(0).max_definition_level == 1
    assert verify_segment(other) is None
    assert read_footer(other).rows == 60
    assert verify_segment(segment) is None
