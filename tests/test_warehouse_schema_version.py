"""The warehouse's schema version (`warehouse_meta` 'schema_version'): stamped by every writing
run in its own transaction, never by a reader; a file without it (every release before) is
schema 1; a file of a newer schema is refused by every command with one line; and the one
place a migration from N to N+1 goes (`analytics.warehouse.MIGRATIONS`) runs in the run's
transaction.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

import analytics.warehouse
from analytics.cli import main
from analytics.database import WAREHOUSE_SCHEMA_VERSION, check_schema_version
from analytics.errors import WarehouseError, WarehouseSchemaError
from analytics.export import export_table
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.spark import load_spark_rollups
from analytics.tables import MIX_TABLES
from analytics.warehouse import Migration, Warehouse
from tests.cli_support import ONE_DAY, build_one_day_warehouse, cli
from tests.support import ROOT
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    stored_schema_version,
    table_rows,
    tally,
    write_events,
)

NOW = datetime(2026, 11, 5, tzinfo=UTC)
CURRENT = str(WAREHOUSE_SCHEMA_VERSION)
# This release's steps (1 -> 2: the device and consent mix), kept for the simulated release 3.
THIS_RELEASES_MIGRATIONS = dict(analytics.warehouse.MIGRATIONS)
assert CURRENT == "2"
assert set(THIS_RELEASES_MIGRATIONS) == {1}


def _set_version(db: Path, value: str | None) -> None:
    """Store `value` as the schema version, or remove the row (as every release before)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
        if value is not None:
            con.execute("INSERT INTO warehouse_meta VALUES ('schema_version', ?)", [value])
    finally:
        con.close()


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def _mix_rows(db: Path) -> dict[str, set[tuple[object, ...]]]:
    """The rows of schema 2's tables; a table the file lacks holds none."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        return {
            table: set(con.execute(f"SELECT * FROM {table}").fetchall())
            if table in present
            else set()
            for table in MIX_TABLES
        }
    finally:
        con.close()


NO_MIX: dict[str, set[tuple[object, ...]]] = {table: set() for table in MIX_TABLES}
# build_one_day_warehouse's events.
ONE_DAYS_EVENTS = list(events_for_days(random.Random(14), [ONE_DAY], per_day=50))


@pytest.fixture
def unversioned(tmp_path: Path) -> Path:
    """A one-day warehouse as every release before versions made it: no version row, none
    of schema 2's tables (schema 1)."""
    db = build_one_day_warehouse(tmp_path)
    _set_version(db, None)
    con = duckdb.connect(str(db))
    try:
        for table in MIX_TABLES:
            con.execute(f"DROP TABLE {table}")
    finally:
        con.close()
    return db


def test_a_new_warehouse_is_stamped_with_the_current_schema(tmp_path: Path) -> None:
    db = build_one_day_warehouse(tmp_path)
    assert stored_schema_version(db) == CURRENT
    assert _mix_rows(db) == {table: tally(ONE_DAYS_EVENTS)[table] for table in MIX_TABLES}


READERS = [
    ("report", "summary", "--from", "2026-11-01", "--to", "2026-11-01"),
    ("report", "referrers", "--format", "json", "--from", "2026-11-01", "--to", "2026-11-01"),
    ("report", "trends"),
    ("export", "--table", "daily_totals", "--format", "csv", "--output", "{out}.csv"),
    ("export", "--table", "events", "--format", "parquet", "--output", "{out}.parquet"),
]


@pytest.mark.parametrize("argv", READERS, ids=lambda argv: "-".join(argv[:2]))
def test_readers_never_stamp_an_unversioned_warehouse(
    unversioned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    before = _digest(unversioned)
    args = [a.format(out=tmp_path / "out") for a in argv]
    assert main([*args, "--db", str(unversioned)]) == 0
    assert capsys.readouterr().err == ""
    assert stored_schema_version(unversioned) is None
    assert _digest(unversioned) == before


def _cli_rollup(db: Path) -> None:
    assert main(["rollup", "--spool", str(db.parent / "spool"), "--db", str(db)]) == 0


def _cli_prune(db: Path) -> None:
    assert main(["prune", "--db", str(db), "--raw-days", "30"]) == 0


WRITERS: dict[str, Callable[[Path], object]] = {
    "cli-rollup": _cli_rollup,
    "cli-prune": _cli_prune,
    "run": lambda db: Warehouse(db, clock=fixed_clock(NOW)).run(db.parent / "spool"),
    "ingest": lambda db: Warehouse(db, clock=fixed_clock(NOW)).ingest(db.parent / "spool"),
    "rollup": lambda db: Warehouse(db, clock=fixed_clock(NOW)).rollup(),
    "prune": lambda db: Warehouse(db, clock=fixed_clock(NOW)).prune(),
}


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_writing_run_stamps_an_unversioned_warehouse(
    unversioned: Path, write: Callable[[Path], object]
) -> None:
    totals = table_rows(unversioned, "daily_totals")
    assert _mix_rows(unversioned) == NO_MIX
    write(unversioned)
    assert stored_schema_version(unversioned) == CURRENT
    assert table_rows(unversioned, "daily_totals") == totals  # schema 1 it was: read as such
    # and taken to schema 2: the day's device and consent mix, from its raw events
    assert _mix_rows(unversioned) == {table: tally(ONE_DAYS_EVENTS)[table] for table in MIX_TABLES}


def test_a_run_that_fails_commits_no_stamp(
    unversioned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stamp is part of the run's transaction: a run rolled back leaves the file as it was.
    write_events(
        unversioned.parent / "spool", events_for_days(random.Random(5), [ONE_DAY], per_day=5)
    )

    def fail(*args: object) -> int:
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(Warehouse, "_prune", fail)
    with pytest.raises(WarehouseError, match="disk full"):
        Warehouse(unversioned, clock=fixed_clock(NOW)).run(unversioned.parent / "spool")
    assert stored_schema_version(unversioned) is None
    assert _mix_rows(unversioned) == NO_MIX  # the step 1 -> 2 went with the run


NEWER = [str(WAREHOUSE_SCHEMA_VERSION + 1), "999999999"]
UNKNOWN = ["abc", "0", "", "2b"]


def _refusal(db: Path, value: str) -> str:
    if value in NEWER:
        what = f"schema {value}, written by a newer cookiewall than this one (schema 2)"
    else:
        what = f"schema version {value!r}, which this cookiewall (schema 2) does not know"
    return f"database {str(db)!r} has warehouse {what}: upgrade cookiewall to use it"


COMMANDS = [
    ("rollup", "--spool", "{spool}"),
    ("rollup", "--spool", "{spool}", "--delete-ingested"),
    ("rollup", "--spool", "{spool}", "--archive", "{root}/archive"),
    ("report", "summary"),
    ("report", "pages", "--format", "html", "--output", "{root}/pages.html"),
    ("export", "--table", "daily_pages", "--format", "csv", "--output", "{root}/pages.csv"),
    ("prune", "--raw-days", "1"),
]


@pytest.mark.parametrize("value", NEWER + UNKNOWN)
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: "-".join(argv[:2]))
def test_every_command_refuses_a_newer_warehouse_in_one_line(
    unversioned: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    value: str,
) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(5), [ONE_DAY], per_day=5))  # a new segment
    segments = sorted(p.name for p in spool.rglob("*.parquet"))
    _set_version(unversioned, value)
    before = _digest(unversioned)
    args = [a.format(spool=spool, root=tmp_path) for a in argv]
    assert main([*args, "--db", str(unversioned)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"analytics: error: {_refusal(unversioned, value)}\n"
    assert _digest(unversioned) == before
    assert sorted(p.name for p in spool.rglob("*.parquet")) == segments
    assert not any(tmp_path.glob("pages.*"))
    assert not (tmp_path / "archive").exists()


@pytest.mark.parametrize(
    "argv",
    [
        COMMANDS[1],
        COMMANDS[3],
        ("export", "--table", "events", "--format", "parquet", "--output", "-"),
        COMMANDS[6],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_the_refusal_in_a_real_process(
    unversioned: Path, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    _set_version(unversioned, NEWER[0])
    args = [a.format(spool=tmp_path / "spool", root=tmp_path) for a in argv]
    proc = subprocess.run(
        cli(*args, "--db", str(unversioned)), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == f"analytics: error: {_refusal(unversioned, NEWER[0])}\n"


def test_library_calls_refuse_a_newer_warehouse(unversioned: Path, tmp_path: Path) -> None:
    _set_version(unversioned, NEWER[0])
    expected = _refusal(unversioned, NEWER[0])
    warehouse = Warehouse(unversioned, clock=fixed_clock(NOW))
    for call in (
        lambda: warehouse.run(tmp_path / "spool"),
        warehouse.rollup,
        warehouse.prune,
        warehouse.today,
        lambda: export_table(unversioned, "daily_totals", "csv", tmp_path / "t.csv"),
        lambda: load_spark_rollups(tmp_path, unversioned),
    ):
        with pytest.raises(WarehouseSchemaError) as refused:
            call()
        assert str(refused.value) == expected
        assert (refused.value.found, refused.value.supported) == (3, 2)
    with pytest.raises(ReportError) as report_refused:
        run_report(unversioned, ReportQuery(kind="summary", today=date(2026, 11, 5)))
    assert str(report_refused.value) == expected


def test_the_check_reads_an_attached_file_as_the_dashboard_does(unversioned: Path) -> None:
    # The dashboard copies the rollups through ATTACH, not `connect`.
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{unversioned}' AS wh (READ_ONLY)")
        assert check_schema_version(con, unversioned, meta_table="wh.main.warehouse_meta") is None
        con.execute("DETACH wh")
        _set_version(unversioned, NEWER[0])
        con.execute(f"ATTACH '{unversioned}' AS wh (READ_ONLY)")
        with pytest.raises(WarehouseSchemaError) as refused:
            check_schema_version(con, unversioned, meta_table="wh.main.warehouse_meta")
        assert refused.value.found == 3
    finally:
        con.close()


def _release_3(monkeypatch: pytest.MonkeyPatch, steps: list[str], to_3: Migration) -> None:
    """This process runs the release of schema 3: this release's step 1 -> 2, then `to_3`,
    each noted in `steps` as it starts."""

    def step_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
        steps.append("1->2")
        THIS_RELEASES_MIGRATIONS[1](con)

    def step_2_to_3(con: duckdb.DuckDBPyConnection) -> None:
        steps.append("2->3")
        to_3(con)

    monkeypatch.setattr("analytics.database.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.WAREHOUSE_SCHEMA_VERSION", 3)
    monkeypatch.setattr("analytics.warehouse.MIGRATIONS", {1: step_1_to_2, 2: step_2_to_3})


def _add_sessions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE daily_totals ADD COLUMN sessions BIGINT DEFAULT 0")


@pytest.mark.parametrize(
    ("start", "taken"), [(None, ["1->2", "2->3"]), ("1", ["1->2", "2->3"]), ("2", ["2->3"])]
)
def test_a_migration_runs_once_in_the_writing_run(
    unversioned: Path, monkeypatch: pytest.MonkeyPatch, start: str | None, taken: list[str]
) -> None:
    # What a release that bumps the schema does: the version, and its steps from the stored.
    steps: list[str] = []
    if start == "2":  # a file of this release: schema 2's tables, filled
        Warehouse(unversioned, clock=fixed_clock(NOW)).rollup()
        assert stored_schema_version(unversioned) == "2"
    _set_version(unversioned, start)
    _release_3(monkeypatch, steps, _add_sessions)
    before = _digest(unversioned)
    # A reader of the new release reads the old file as it is, and changes nothing.
    assert main(["report", "summary", "--db", str(unversioned)]) == 0
    assert _digest(unversioned) == before
    warehouse = Warehouse(unversioned, clock=fixed_clock(NOW))
    warehouse.run(unversioned.parent / "spool")
    warehouse.run(unversioned.parent / "spool")
    assert steps == taken
    assert stored_schema_version(unversioned) == "3"
    con = duckdb.connect(str(unversioned), read_only=True)
    try:
        assert con.execute("SELECT DISTINCT sessions FROM daily_totals").fetchall() == [(0,)]
    finally:
        con.close()
    assert _mix_rows(unversioned) == {table: tally(ONE_DAYS_EVENTS)[table] for table in MIX_TABLES}


def test_a_failed_migration_leaves_the_old_schema(
    unversioned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("ALTER TABLE daily_totals ADD COLUMN sessions BIGINT DEFAULT 0")
        con.execute("SELECT * FROM no_such_table")

    steps: list[str] = []
    _release_3(monkeypatch, steps, broken)
    with pytest.raises(WarehouseError, match="no_such_table"):
        Warehouse(unversioned, clock=fixed_clock(NOW)).prune()
    assert steps == ["1->2", "2->3"]
    assert stored_schema_version(unversioned) is None
    assert "sessions" not in _columns(unversioned, "daily_totals")
    assert _mix_rows(unversioned) == NO_MIX  # the step 1 -> 2 rolled back with it


def _columns(db: Path, table: str) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    finally:
        con.close()
    return {row[0] for row in rows}


def test_loading_spark_rollups_stamps_the_schema(tmp_path: Path) -> None:
    output = tmp_path / "spark-output"
    output.mkdir()
    db = tmp_path / "spark.duckdb"
    load_spark_rollups(output, db)
    assert stored_schema_version(db) == CURRENT
