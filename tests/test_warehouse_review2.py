"""Second review of the warehouse, reports and CLI: each test pins a bug that was found and
fixed (the comment says what happened before), on real DuckDB files and real subprocesses."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)
RANGE = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review2")
    days = [FIRST + timedelta(days=i) for i in range(28)]
    write_events(root / "spool", events_for_days(random.Random(21), days, per_day=40))
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(NOW)).run(root / "spool")
    return path


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


# -- the CLI in a pipeline -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_stops_early_gets_no_traceback(db: Path, fmt: str) -> None:
    # `analytics report pages ... | head -1`: before, the closed pipe raised BrokenPipeError
    # out of the report (a traceback, exit 1) or, for a short report, out of the final
    # flush ("Exception ignored ... BrokenPipeError", exit 120).
    proc = subprocess.Popen(
        _cli("report", "pages", "--db", str(db), *RANGE, "--format", fmt),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode == 1


# -- a DuckDB file that is not a warehouse ---------------------------------------------------


def _foreign_duckdb(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE orders (id INTEGER, total DECIMAL(9, 2))")
        con.execute("INSERT INTO orders VALUES (1, 9.99)")
    finally:
        con.close()
    return path


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()


def test_rollup_refuses_a_duckdb_file_that_is_not_a_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mistyped --db (the app's own DuckDB file): before, rollup planted the warehouse's
    # seven tables and its events in it and said all was well (prune already refused it).
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(22), [FIRST], per_day=20))
    other = _foreign_duckdb(tmp_path / "app.duckdb")
    assert main(["rollup", "--spool", str(spool), "--db", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "not a cookiewall warehouse" in err
    assert _tables(other) == {"orders"}
    assert len(list(spool.rglob("*.parquet"))) == 1  # nothing ingested, nothing moved
    with pytest.raises(WarehouseError, match="not a cookiewall warehouse"):
        Warehouse(other).rollup()
    assert _tables(other) == {"orders"}


def test_an_empty_duckdb_file_still_becomes_a_warehouse(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(23), [FIRST], per_day=20))
    empty = tmp_path / "new.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["rollup", "--spool", str(spool), "--db", str(empty)]) == 0
    assert {"events", "daily_totals", "warehouse_meta"} <= _tables(empty)
