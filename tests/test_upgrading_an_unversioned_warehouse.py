"""Upgrading from a release before schema versions were stored, as a user does: the first run
on a file made by such a release (no `schema_version` row: schema 1) takes the step to this
release's schema 2 and stamps it, and changes nothing else: the same tables, columns,
constraints, indexes and rows, and the same reports, plus schema 2's daily_devices and
daily_consent, filled from the raw events as a new warehouse holds them (and the devices and
consent reports with them); later runs keep the one stamp; segments that arrive after the
upgrade give exactly what a warehouse built by this release from the whole spool holds.

The older file is made by this code with the stamp removed and schema 2's two tables dropped:
built from one spool, that file and one made by the release before versions (f9710a0) had the
same schema, rows and warehouse_meta, but for those two tables.
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
from analytics.tables import MIX_TABLES
from analytics.warehouse import LAST_COMMIT_META_KEY, Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

NOW = datetime(2026, 9, 25, tzinfo=UTC)
FIRST = date(2026, 9, 1)


def _write(spool: Path, seed: int, days: list[date], per_day: int) -> None:
    rng = random.Random(seed)
    for day in days:
        write_segment(spool, day, to_table(events_for_days(rng, [day], per_day=per_day)))


# The report kinds of schema 2's tables (a schema-1 file reads them as empty).
MIX_KINDS = ("devices", "consent")


def _older_release_file(tmp_path: Path, spool: Path, timezone: str) -> Path:
    db = tmp_path / "old.duckdb"
    Warehouse(db, timezone=timezone, clock=fixed_clock(NOW)).run(spool)
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
        for table in MIX_TABLES:
            con.execute(f"DROP TABLE {table}")
    finally:
        con.close()
    return db


def _without_mix_tables(catalog: list[Any]) -> list[Any]:
    """`catalog` (of `_catalog_and_rows`) without the entries of schema 2's tables, and the
    constraints without their constraint_index: a running number over every table's
    constraints, which the two tables' shift for the tables after them by name."""
    kept = [
        [row for row in part if not any(cell in MIX_TABLES for cell in row)] for part in catalog
    ]
    kept[1] = [row[:2] + row[3:] for row in kept[1]]
    return kept


def _catalog_and_rows(db: Path) -> tuple[list[Any], dict[str, list[Any]]]:
    """Every column, constraint, index and view of `db`, and every table's rows (but the
    commit token in warehouse_meta: a new one with every run)."""
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
        rows["warehouse_meta"] = [
            row for row in rows["warehouse_meta"] if row[0] != LAST_COMMIT_META_KEY
        ]
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
def test_the_first_run_stamps_schema_2_adds_the_mix_and_changes_nothing_else(
    tmp_path: Path, timezone: str
) -> None:
    spool = tmp_path / "spool"
    _write(spool, 7, [FIRST + timedelta(days=i) for i in range(10)], per_day=40)
    db = _older_release_file(tmp_path, spool, timezone)
    catalog, rows = _catalog_and_rows(db)
    meta = rows.pop("warehouse_meta")
    assert not {key for key, _ in meta} & {"schema_version"}
    assert not set(MIX_TABLES) & set(rows)
    reports = _reports(db)
    assert sum(len(report.rows) for report in reports.values()) > 0
    assert all(not reports[kind, compare].rows for kind in MIX_KINDS for compare in (False, True))
    # What this release makes of the same spool: schema 2's tables as they must be filled.
    fresh = tmp_path / "fresh.duckdb"
    Warehouse(fresh, timezone=timezone, clock=fixed_clock(NOW)).run(spool)
    fresh_catalog, fresh_rows = _catalog_and_rows(fresh)
    fresh_reports = _reports(fresh)
    assert _without_mix_tables(fresh_catalog) == _without_mix_tables(catalog)
    assert all(fresh_rows[table] for table in MIX_TABLES)

    for _ in range(2):  # the upgrade's first run, then an ordinary one
        Warehouse(db, clock=fixed_clock(NOW)).run(spool)
        after_catalog, after_rows = _catalog_and_rows(db)
        assert after_catalog == fresh_catalog
        assert after_rows.pop("warehouse_meta") == sorted([*meta, ("schema_version", "2")])
        for table in MIX_TABLES:
            assert after_rows.pop(table) == fresh_rows[table]
        assert after_rows == rows
        after_reports = _reports(db)
        for (kind, compare), report in after_reports.items():
            if kind in MIX_KINDS:
                assert report == fresh_reports[kind, compare]
            else:
                assert report == reports[kind, compare]


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
