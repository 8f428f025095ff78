"""A Parquet export carries the table's declared schema, whatever the rows hold.

DuckDB's COPY took each column's nullability from the data: `daily_campaigns` exported on a
day every campaign had a utm_source wrote `utm_source` REQUIRED (although schema.sql declares
it nullable), and the next day's, once a link without it came, OPTIONAL. Loading daily exports
into one table (BigQuery appends, a Spark schema merge, pyarrow.dataset over the folder)
failed on the day of the first null. Now every export has the declared nullability: nullable
columns OPTIONAL, NOT NULL ones REQUIRED, on every day.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.event import Event
from analytics.export import EXPORT_TABLE_KEY, EXPORT_TABLES, PARQUET_ROW_GROUP_ROWS, export_table
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

DAY = date(2026, 10, 19)


def _warehouse(folder: Path, events: list[Event]) -> Path:
    spool = folder / "spool"
    write_events(spool, events)
    db = folder / "w.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(2026, 10, 20, 6, tzinfo=UTC))).run(spool)
    return db


def _every_field_set(rng: random.Random) -> list[Event]:
    """A day on which no nullable column of any table holds a null."""
    return [
        event._replace(
            referrer_host="news.friend.org",
            referrer_domain="friend.org",
            referrer_medium="referral",
            referrer_source="friend.org",
            utm_source="newsletter",
            utm_medium="email",
            utm_campaign="autumn",
            visitor_id=index % 7,
            is_bot=False,
            device="desktop",
        )
        for index, event in enumerate(events_for_days(rng, [DAY], 30))
    ]


def _with_nulls(rng: random.Random) -> list[Event]:
    """The next day: a direct visit without tags or visitor id, a link tagged with a source
    only."""
    events = _every_field_set(rng)
    nulls = events[0]._replace(
        ts=datetime(2026, 10, 19, 15, tzinfo=UTC),
        referrer_host=None,
        referrer_domain=None,
        referrer_medium="direct",
        referrer_source=None,
        utm_source=None,
        utm_medium=None,
        utm_campaign=None,
        visitor_id=None,
    )
    # A link tagged with a source only: null medium and campaign in daily_campaigns.
    source_only = events[1]._replace(utm_medium=None, utm_campaign=None)
    return [*events, nulls, source_only]


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    no_null = _warehouse(tmp_path_factory.mktemp("no-null"), _every_field_set(random.Random(3)))
    nulls = _warehouse(tmp_path_factory.mktemp("nulls"), _with_nulls(random.Random(3)))
    return no_null, nulls


def _declared(db: Path, table: str) -> dict[str, bool]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {row[0]: row[2] == "YES" for row in con.execute(f"DESCRIBE {table}").fetchall()}
    finally:
        con.close()


def _export(db: Path, table: str, output: Path) -> Path:
    export_table(db, table, "parquet", output)
    return output


@pytest.mark.parametrize("table", EXPORT_TABLES)
def test_every_column_is_exported_as_declared_although_none_holds_a_null(
    warehouses: tuple[Path, Path], table: str, tmp_path: Path
) -> None:
    db = warehouses[0]
    declared = _declared(db, table)
    schema = pq.read_schema(_export(db, table, tmp_path / f"{table}.parquet"))
    assert {field.name: field.nullable for field in schema} == declared
    # The data really hold no null: this is the case COPY wrote as REQUIRED.
    con = duckdb.connect(str(db), read_only=True)
    try:
        for column, nullable in declared.items():
            if nullable:
                nulls = con.execute(f'SELECT count(*) FROM {table} WHERE "{column}" IS NULL')
                assert nulls.fetchone() == (0,), (table, column)
    finally:
        con.close()


@pytest.mark.parametrize("table", EXPORT_TABLES)
def test_the_schema_is_the_same_on_a_day_with_nulls_and_one_without(
    warehouses: tuple[Path, Path], table: str, tmp_path: Path
) -> None:
    no_null, nulls = warehouses
    first = pq.read_schema(_export(no_null, table, tmp_path / "monday.parquet"))
    second = pq.read_schema(_export(nulls, table, tmp_path / "tuesday.parquet"))
    assert first.equals(second, check_metadata=True), f"{first}\n---\n{second}"
    assert first.metadata[EXPORT_TABLE_KEY] == table.encode()


@pytest.mark.parametrize("table", EXPORT_TABLES)
def test_the_exported_rows_are_the_tables(
    warehouses: tuple[Path, Path], table: str, tmp_path: Path
) -> None:
    db = warehouses[1]
    output = _export(db, table, tmp_path / "t.parquet")
    con = duckdb.connect(str(db), read_only=True)
    try:
        exported = con.execute(f"SELECT * FROM read_parquet('{output}')").fetchall()
        stored = con.execute(f"SELECT * FROM {table}").fetchall()
        types = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{output}')").fetchall()
        declared_types = con.execute(f"DESCRIBE {table}").fetchall()
    finally:
        con.close()
    assert sorted(exported, key=repr) == sorted(stored, key=repr)
    assert [row[:2] for row in types] == [row[:2] for row in declared_types]


def test_an_old_warehouse_exports_referrer_domains_with_the_declared_schema(
    warehouses: tuple[Path, Path], tmp_path: Path
) -> None:
    """A warehouse made before daily_referrer_domains exports it from daily_referrers."""
    old = tmp_path / "old.duckdb"
    shutil.copy(warehouses[0], old)
    con = duckdb.connect(str(old))
    con.execute("DROP TABLE daily_referrer_domains")
    con.close()
    schema = pq.read_schema(_export(old, "daily_referrer_domains", tmp_path / "d.parquet"))
    assert {field.name: field.nullable for field in schema} == _declared(
        warehouses[0], "daily_referrer_domains"
    )


def test_a_large_table_is_written_in_row_groups(
    warehouses: tuple[Path, Path], tmp_path: Path
) -> None:
    """Streamed from DuckDB one row group at a time, as COPY wrote it: never held whole."""
    big = tmp_path / "big.duckdb"
    shutil.copy(warehouses[0], big)
    con = duckdb.connect(str(big))
    before = con.execute("SELECT count(*) FROM daily_campaigns").fetchone()
    assert before is not None
    con.execute(
        "INSERT INTO daily_campaigns SELECT DATE '2026-01-01' + (i % 300)::INT, 'example.com', "
        "'s' || i::VARCHAR, NULL, 'c', i, 1 FROM range(300000) AS t(i)"
    )
    con.close()
    output = _export(big, "daily_campaigns", tmp_path / "big.parquet")
    meta = pq.ParquetFile(output).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert meta.num_rows == 300000 + before[0]
    assert max(sizes) <= PARQUET_ROW_GROUP_ROWS
    assert meta.num_row_groups >= 3
    assert meta.row_group(0).column(0).compression == "ZSTD"
