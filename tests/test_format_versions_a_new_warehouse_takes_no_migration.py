"""A warehouse made by a release is made at that release's schema: its tables come from
analytics/sql/schema.sql as that release wrote it, so none of `MIGRATIONS`' steps (which
bring an OLDER file up) may run on them. The file is stamped with the current version in the
same transaction that creates its tables, so a first run that fails (or is killed) afterwards
leaves a file that is still known to be of the current schema, never one that looks made
before versions were stored (schema 1) and would be "migrated" next time.

The release simulated here is the next one after this (schema 2): WAREHOUSE_SCHEMA_VERSION 3,
schema.sql creating daily_totals with a new column, and the step 2 -> 3 that adds that column
to a file of schema 2, after this release's own step 1 -> 2 (the device and consent mix).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import analytics.warehouse
from analytics.errors import WarehouseError
from analytics.event import Event
from analytics.tables import read_sql
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    stored_schema_version,
    table_rows,
    tally,
    write_events,
)

NOW = datetime(2026, 11, 5, tzinfo=UTC)
DAY = NOW.date()
THIS_RELEASES_MIGRATIONS = dict(analytics.warehouse.MIGRATIONS)


def _schema_3_sql(name: str) -> str:
    """analytics/sql/<name> as the release of schema 3 ships it (its rollup fills the new
    column too)."""
    text = read_sql(name)
    if name == "schema.sql":
        text = text.replace(
            "    bot_hits BIGINT NOT NULL\n",
            "    bot_hits BIGINT NOT NULL,\n    sessions BIGINT NOT NULL DEFAULT 0\n",
        )
        assert "sessions" in text
    elif name == "rollup_daily_totals.sql":
        text = text.replace(
            "    SUM(bot_hits) AS bot_hits\n", "    SUM(bot_hits) AS bot_hits,\n    0 AS sessions\n"
        )
        assert "sessions" in text
    return text


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every migration step taken, while this process runs the release of schema 3."""
    taken: list[str] = []
    to_schema_2 = THIS_RELEASES_MIGRATIONS[1]  # this release's own step, as it is

    def step_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
        taken.append("1->2")
        to_schema_2(con)

    def to_schema_3(con: duckdb.DuckDBPyConnection) -> None:
        taken.append("2->3")
        # In two statements: DuckDB 1.1 to 1.3 (the floor is 1.1, `make test-floors`) adds no
        # column with a constraint ("Adding columns with constraints not yet supported").
        con.execute("ALTER TABLE daily_totals ADD COLUMN sessions BIGINT DEFAULT 0")
        con.execute("ALTER TABLE daily_totals ALTER COLUMN sessions SET NOT NULL")

    monkeypatch.setattr("analytics.database.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.MIGRATIONS", {1: step_1_to_2, 2: to_schema_3})
    monkeypatch.setattr("analytics.warehouse.read_sql", _schema_3_sql)
    return taken


def _spool(root: Path) -> tuple[Path, list[Event]]:
    spool = root / "spool"
    events = list(events_for_days(random.Random(5), [DAY], per_day=40))
    write_events(spool, events, per_segment=10)
    return spool, events


def _totals_at_schema_3(events: list[Event]) -> set[tuple[object, ...]]:
    """daily_totals as schema 3 holds `events`: schema 2's rows and sessions 0."""
    return {(*row, 0) for row in tally(events)["daily_totals"]}


@pytest.mark.parametrize("first", ["run", "ingest", "rollup", "prune"])
def test_a_new_warehouse_is_made_at_the_current_schema_and_takes_no_step(
    tmp_path: Path, steps: list[str], first: str
) -> None:
    spool, events = _spool(tmp_path)
    db = tmp_path / "new.duckdb"
    warehouse = Warehouse(db, clock=fixed_clock(NOW))
    calls = {
        "run": lambda: warehouse.run(spool),
        "ingest": lambda: warehouse.ingest(spool),
        "rollup": warehouse.rollup,
        "prune": warehouse.prune,
    }
    calls[first]()  # before the fix: the step ran on the new tables ("sessions" exists)
    assert steps == []
    assert stored_schema_version(db) == "3"
    warehouse.run(spool)
    assert steps == []
    assert stored_schema_version(db) == "3"
    assert table_rows(db, "daily_totals") == _totals_at_schema_3(events)


def test_a_first_run_that_fails_leaves_a_file_of_the_current_schema(
    tmp_path: Path, steps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The new file's tables stay (as before), and they are schema 3's: its stamp stays too,
    # or the next run would take the steps 1 -> 2 and 2 -> 3 on them.
    spool, events = _spool(tmp_path)
    db = tmp_path / "new.duckdb"

    def fail(*args: object) -> int:
        raise duckdb.IOException("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "_prune", fail)
        with pytest.raises(WarehouseError, match="disk full"):
            Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert stored_schema_version(db) == "3"
    assert table_rows(db, "events") == set()  # the run itself was rolled back
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert steps == []
    assert table_rows(db, "daily_totals") == _totals_at_schema_3(events)


def test_an_unknown_time_zone_leaves_no_half_made_warehouse(
    tmp_path: Path, steps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Refused before anything is stored: the file holds no tables (so no unstamped ones that
    # a later run would take for schema 1), and a later run makes it whole.
    spool, events = _spool(tmp_path)
    db = tmp_path / "new.duckdb"

    def refuse(con: duckdb.DuckDBPyConnection, zone: str) -> None:
        raise WarehouseError(f"unknown time zone {zone!r}")

    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "_check_duckdb_knows", staticmethod(refuse))
        with pytest.raises(WarehouseError, match="unknown time zone"):
            Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall() == [(0,)]
    finally:
        con.close()
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert steps == []
    assert stored_schema_version(db) == "3"
    assert len(table_rows(db, "daily_totals")) == len(tally(events)["daily_totals"])


def test_an_old_file_still_takes_its_step_once(tmp_path: Path, steps: list[str]) -> None:
    # The control: a file of schema 2 (made by the release before, this one, stamped "2").
    spool, events = _spool(tmp_path)
    db = tmp_path / "old.duckdb"
    with pytest.MonkeyPatch.context() as old_release:
        old_release.setattr("analytics.database.WAREHOUSE_SCHEMA_VERSION", 2)
        old_release.setattr("analytics.warehouse.WAREHOUSE_SCHEMA_VERSION", 2)
        old_release.setattr("analytics.warehouse.MIGRATIONS", THIS_RELEASES_MIGRATIONS)
        old_release.setattr("analytics.warehouse.read_sql", read_sql)
        Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert stored_schema_version(db) == "2"
    assert steps == []
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert steps == ["2->3"]
    assert stored_schema_version(db) == "3"
    assert table_rows(db, "daily_totals") == _totals_at_schema_3(events)
    for table in ("daily_devices", "daily_consent"):  # schema 2's, kept through the step
        assert table_rows(db, table) == tally(events)[table]


assert set(THIS_RELEASES_MIGRATIONS) == {1}  # this release: schema 2, one step (1 -> 2)
