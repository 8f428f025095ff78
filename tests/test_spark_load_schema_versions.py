"""`load_spark_rollups` writes a warehouse file as the DuckDB rollup does: its tables, the
schema's migration steps and the version stamp go in the one transaction that loads the
rows.

Before, it created the tables outside its transaction and stamped only at the end: a load
that failed in between left tables without a version, which every later writer takes for a
file made before versions were stored (schema 1), so a release's first migration step would
run on tables that already have its change. And it stamped an older file with the current
version without taking the steps in between. It also planted its tables in any DuckDB file,
a mistyped --db included.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

import analytics.warehouse
from analytics.database import WAREHOUSE_SCHEMA_VERSION
from analytics.errors import WarehouseError
from analytics.spark import load_spark_rollups
from analytics.tables import MIX_TABLES
from tests.warehouse_support import (
    Row,
    events_for_days,
    spark_style_output,
    stored_schema_version,
    table_rows,
    tally,
)

DAYS = [date(2026, 11, 27), date(2026, 11, 28)]
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _spark_output(root: Path) -> tuple[Path, dict[str, set[Row]]]:
    events = events_for_days(random.Random(3), DAYS, per_day=40)
    return spark_style_output(root, events, NOW), tally(events)


def _tables(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        return {row[0] for row in rows}


def test_a_load_that_fails_leaves_a_new_file_without_tables(tmp_path: Path) -> None:
    output, _ = _spark_output(tmp_path)
    # One day of one table is damaged: the load fails after the tables would have been made.
    (damaged,) = sorted((output / "daily_pages").glob("day=*"))[-1:]
    for part in damaged.glob("*.parquet"):
        part.write_bytes(b"not parquet at all")
    db = tmp_path / "spark.duckdb"
    with pytest.raises(WarehouseError, match="cannot load Spark rollups"):
        load_spark_rollups(output, db)
    # Nothing committed: no table at all, so no file that looks made before versions.
    assert _tables(db) == set()


def test_the_file_is_stamped_with_the_version_its_tables_have(tmp_path: Path) -> None:
    output, expected = _spark_output(tmp_path)
    db = tmp_path / "spark.duckdb"
    load_spark_rollups(output, db)
    assert table_rows(db, "daily_totals") == expected["daily_totals"]
    for table in MIX_TABLES:  # the tables of schema 2, loaded too
        assert table_rows(db, table) == expected[table]
    assert stored_schema_version(db) == str(WAREHOUSE_SCHEMA_VERSION) == "2"


def test_an_older_file_takes_the_migration_steps_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, expected = _spark_output(tmp_path)
    db = tmp_path / "spark.duckdb"
    load_spark_rollups(output, db)  # a file of schema 2 (this release)
    taken: list[str] = []
    to_schema_2 = analytics.warehouse.MIGRATIONS[1]

    def step_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
        taken.append("1->2")
        to_schema_2(con)

    def to_schema_3(con: duckdb.DuckDBPyConnection) -> None:
        taken.append("2->3")
        con.execute("CREATE TABLE schema_3_marker (x INTEGER)")

    # The release of schema 3, with this release's step 1 -> 2 and its own 2 -> 3.
    monkeypatch.setattr("analytics.database.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.spark.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.MIGRATIONS", {1: step_1_to_2, 2: to_schema_3})
    load_spark_rollups(output, db)
    load_spark_rollups(output, db)  # stamped 3 now: no step again
    assert taken == ["2->3"]
    assert stored_schema_version(db) == "3"
    assert "schema_3_marker" in _tables(db)
    for table in ("daily_totals", *MIX_TABLES):
        assert table_rows(db, table) == expected[table]


def test_a_file_of_schema_1_takes_the_step_to_2_and_gets_the_mix_tables(tmp_path: Path) -> None:
    # A file loaded by the release before schema 2: stamped 1, no device or consent table.
    output, expected = _spark_output(tmp_path)
    db = tmp_path / "spark.duckdb"
    load_spark_rollups(output, db)
    with duckdb.connect(str(db)) as con:
        for table in MIX_TABLES:
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE warehouse_meta SET value = '1' WHERE key = 'schema_version'")
    load_spark_rollups(output, db)
    assert stored_schema_version(db) == "2"
    for table in ("daily_totals", *MIX_TABLES):
        assert table_rows(db, table) == expected[table]


def test_another_duckdb_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    output, _ = _spark_output(tmp_path)
    db = tmp_path / "orders.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    with pytest.raises(WarehouseError, match="not a cookiewall warehouse"):
        load_spark_rollups(output, db)
    assert _tables(db) == {"orders"}
