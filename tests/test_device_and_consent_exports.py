"""`analytics export --table daily_devices|daily_consent`: the rows the warehouse holds, in
Parquet with the declared schema (NOT NULL columns REQUIRED) and in CSV; a warehouse of
schema 1 not rolled up since exports no rows with the same columns, never writing the file.
Real DuckDB files, the real CLI."""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.export import EXPORT_TABLE_KEY, EXPORT_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(3)]
KEYS = {"daily_devices": "device", "daily_consent": "consent"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mix-exports")
    write_events(root / "spool", events_for_days(random.Random(5), DAYS, per_day=40))
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 10, 5, tzinfo=UTC))).run(root / "spool")
    return path


def stored(db: Path, table: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def expected_schema(key: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field("day", pa.date32(), nullable=False),
            pa.field("site", pa.string(), nullable=False),
            pa.field(key, pa.string(), nullable=False),
            pa.field("pageviews", pa.int64(), nullable=False),
            pa.field("visitors", pa.int64(), nullable=False),
        ]
    )


def test_both_tables_are_exportable() -> None:
    assert set(KEYS) <= set(EXPORT_TABLES)


@pytest.mark.parametrize("table", KEYS)
def test_parquet_export_has_the_rows_and_the_declared_schema(
    db: Path, table: str, tmp_path: Path
) -> None:
    out = tmp_path / f"{table}.parquet"
    argv = ["export", "--db", str(db), "--table", table, "--format", "parquet"]
    assert main([*argv, "--output", str(out)]) == 0
    read = pq.read_table(out)
    assert read.schema.remove_metadata() == expected_schema(KEYS[table])
    assert read.schema.metadata[EXPORT_TABLE_KEY] == table.encode()
    rows = sorted(tuple(row.values()) for row in read.to_pylist())
    assert rows == stored(db, table)
    assert rows


@pytest.mark.parametrize("table", KEYS)
def test_csv_export_has_the_rows(db: Path, table: str, tmp_path: Path) -> None:
    out = tmp_path / f"{table}.csv"
    argv = ["export", "--db", str(db), "--table", table, "--format", "csv"]
    assert main([*argv, "--output", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["day", "site", KEYS[table], "pageviews", "visitors"]
    got = sorted(
        (date.fromisoformat(d), site, key, int(pv), int(vis)) for d, site, key, pv, vis in lines[1:]
    )
    assert got == stored(db, table)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("table", KEYS)
def test_a_schema_1_warehouse_exports_no_rows_unchanged(
    db: Path, table: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.duckdb"
    old.write_bytes(db.read_bytes())
    with duckdb.connect(str(old)) as con:
        con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE warehouse_meta SET value = '1' WHERE key = 'schema_version'")
    before = old.read_bytes()
    out = tmp_path / f"out.{fmt}"
    argv = ["export", "--db", str(old), "--table", table, "--format", fmt]
    assert main([*argv, "--output", str(out)]) == 0
    assert f"exported 0 rows of {table}" in capsys.readouterr().out
    if fmt == "parquet":
        read = pq.read_table(out)
        assert read.num_rows == 0
        assert read.schema.remove_metadata() == expected_schema(KEYS[table])
    else:
        assert out.read_text(encoding="utf-8").splitlines() == [
            f"day,site,{KEYS[table]},pageviews,visitors"
        ]
    assert old.read_bytes() == before


def test_a_file_that_is_no_warehouse_is_still_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    out = tmp_path / "out.parquet"
    argv = ["export", "--db", str(other), "--table", "daily_devices", "--format", "parquet"]
    argv += ["--output", str(out)]
    assert main(argv) != 0
    assert not out.exists()
