"""Upgrading to the release that stores the warehouse schema version, as a user does: the
first run on a file made by an older release (no `schema_version` row) stamps it with
schema 1 and changes nothing else: the same tables, columns, constraints, indexes and rows,
and the same reports; later runs keep the one stamp; segments that arrive after the upgrade
give exactly what a warehouse built by this release from the whole spool holds.

The older file is made by this code with the stamp removed: built from one spool, that file
and one made by the release before (f9710a0) had the same schema, rows and warehouse_meta.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.event import to_table
from analytics.reports import KINDS, Report, ReportQuery, run_report
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

NOW = datetime(2026, 9, 25, tzinfo=UTC)
FIRST = date(2026, 9, 1)


def _write(spool: Path, seed: int, days: list[date], per_day: int) -> None:
    rng = random.Random(seed)
    for day in days:
        write_segment(spool, day, to_table(events_for_days(rng, [day], per_day=per_day)))


def _older_release_file(tmp_path: Path, spool: Path, timezone: str) -> Path:
    db = tmp_path / "old.duckdb"
    Warehouse(db, timezone=timezone, clock=fixed_clock(NOW)).run(spool)
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
    finally:
        con.close()
    return db


def _catalog_and_rows(db: Path) -> tuple[list[Any], dict[str, list[Any]]]:
    """Every column, constraint, index and view of `db`, and every table's rows."""
    con = duckdb.connect(str(db), read_only=True)
    here = "database_name = current_database()"
    try:
        catalog = [
            con.execute(
                f"SELECT * EXCLUDE (database_name, database_oid, schema_oid, table_oid) FROM {fn} "
                f"WHERE {here} ORDER BY ALL"
            ).fetchall()
            for fn in ("duckdb_columns()", "duckdb_constraints()")
        ]
        catalog.append(
            con.execute(
                f"SELECT index_name, table_name, sql FROM duckdb_indexes() WHERE {here} "
                "ORDER BY ALL"
            ).fetchall()
        )
        catalog.append(
            con.execute(
                f"SELECT view_name, sql FROM duckdb_views() WHERE {here} AND NOT internal "
                "ORDER BY ALL"
            ).fetchall()
        )
        tables = [
            str(row[0])
            for row in con.execute(
                f"SELECT table_name FROM duckdb_tables() WHERE {here}"
            ).fetchall()
        ]
        rows = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
    finally:
        con.close()
    return catalog, rows


def _reports(db: Path) -> dict[tuple[str, bool], Report]:
    today = NOW.date()
    return {
        (kind, compare): run_report(
            db, ReportQuery(kind=kind, start=FIRST, end=today, today=today, compare=compare)
        )
        for kind in KINDS
        for compare in (False, True)
    }


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_the_first_run_stamps_schema_1_and_changes_nothing_else(
    tmp_path: Path, timezone: str
) -> None:
    spool = tmp_path / "spool"
    _write(spool, 7, [FIRST + timedelta(days=i) for i in range(10)], per_day=40)
    db = _older_release_file(tmp_path, spool, timezone)
    catalog, rows = _catalog_and_rows(db)
    meta = rows.pop("warehouse_meta")
    assert ("schema_version", "1") not in meta
    reports = _reports(db)
    assert sum(len(report.rows) for report in reports.values()) > 0

    for _ in range(2):  # the upgrade's first run, then an ordinary one
        Warehouse(db, clock=fixed_clock(NOW)).run(spool)
        after_catalog, after_rows = _catalog_and_rows(db)
        assert after_catalog == catalog
        assert after_rows.pop("warehouse_meta") == sorted([*meta, ("schema_version", "1")])
        assert after_rows == rows
        assert _reports(db) == reports


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_segments_after_the_upgrade_give_what_a_new_warehouse_holds(
    tmp_path: Path, timezone: str
) -> None:
    spool = tmp_path / "spool"
    _write(spool, 7, [FIRST + timedelta(days=i) for i in range(10)], per_day=40)
    upgraded = _older_release_file(tmp_path, spool, timezone)
    # Late and new days alike: some land in days the older release rolled up.
    _write(spool, 8, [FIRST + timedelta(days=i) for i in range(8, 14)], per_day=25)
    Warehouse(upgraded, clock=fixed_clock(NOW)).run(spool)

    fresh = tmp_path / "fresh.duckdb"
    Warehouse(fresh, timezone=timezone, clock=fixed_clock(NOW)).run(spool)
    assert _catalog_and_rows(upgraded) == _catalog_and_rows(fresh)
    assert _reports(upgraded) == _reports(fresh)
