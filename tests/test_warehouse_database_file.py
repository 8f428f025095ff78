"""What `--db` may point at: a DuckDB file that is not a warehouse (refused by rollup, named by
report), an empty DuckDB file (becomes one), a folder, and names DuckDB would read as special
targets (`:memory:`, ...), which are plain files.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    seeded_spool,
    table_rows,
    tally,
    write_events,
)

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)


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


def test_a_report_on_a_duckdb_file_that_is_not_a_warehouse_says_so(tmp_path: Path) -> None:
    # Before: "the database has no rollup tables yet; run `analytics rollup` first", advice
    # that planted the warehouse in the app's own file (rollup now refuses it).
    other = _foreign_duckdb(tmp_path / "app.duckdb")
    with pytest.raises(ReportError, match="not a cookiewall warehouse") as caught:
        run_report(other, ReportQuery(kind="referrers", today=NOW.date()))
    assert "analytics rollup" not in str(caught.value)
    assert _tables(other) == {"orders"}


@pytest.mark.parametrize(
    "name", [":memory:", ":memory:stats", "md:stats.duckdb", "file:stats.duckdb", "stats?.duckdb"]
)
def test_a_db_name_duckdb_would_read_as_a_special_target_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # `--db :memory:` rolled up into memory and said all was well: with --delete-ingested
    # the segments were deleted and their events were nowhere. 'md:...' made DuckDB try to
    # download the MotherDuck extension, 'file:...' to load an extension named "file".
    _, events = seeded_spool(tmp_path, FIRST, seed=38)
    monkeypatch.chdir(tmp_path)
    assert main(["rollup", "--spool", "spool", "--db", name, "--delete-ingested"]) == 0
    assert (tmp_path / name).is_file()
    for table, rows in tally(events).items():
        assert table_rows(tmp_path / name, table) == rows, table
    assert main(["report", "summary", "--db", name, "--from", str(FIRST), "--to", str(FIRST)]) == 0
    assert main(["prune", "--db", name, "--raw-days", "1"]) == 0
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "export",
                "--db",
                name,
                "--table",
                "daily_totals",
                "--format",
                "csv",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().count("\n") == len(tally(events)["daily_totals"]) + 1


def _command_id(argv: tuple[str, ...]) -> str:
    return " ".join(arg for arg in argv if not arg.startswith("{"))


def _fill(argv: tuple[str, ...], **paths: Path) -> list[str]:
    return [arg.format(**{k: str(v) for k, v in paths.items()}) for arg in argv]


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "summary", "--db", "{db}"),
        ("export", "--db", "{db}", "--table", "events", "--format", "csv", "--output", "{out}"),
        ("prune", "--db", "{db}", "--raw-days", "3"),
        ("rollup", "--spool", "{spool}", "--db", "{db}"),
        # compact said "is not a regular file", of a folder (walkthrough h240 F7).
        ("compact", "--db", "{db}"),
    ],
    ids=_command_id,
)
def test_a_db_that_is_a_folder_is_called_a_folder_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    # Before: `report` said the folder "does not exist (run `analytics rollup` first)", and
    # `export` that it does not exist, where rollup and prune said what it is.
    folder = tmp_path / "analytics.duckdb"
    folder.mkdir()
    (tmp_path / "spool").mkdir()
    filled = _fill(argv, db=folder, out=tmp_path / "e.csv", spool=tmp_path / "spool")
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert err == f"analytics: error: database {str(folder)!r} is a folder\n"
