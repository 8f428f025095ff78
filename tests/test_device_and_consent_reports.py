"""`analytics report devices|consent`: from daily_devices / daily_consent only, in every
format, with --compare, --grain and --min-visitors; a warehouse of schema 1 (no such tables,
not rolled up since) and days pruned before the upgrade are said in a note, not a traceback.

Real DuckDB files built by the real rollup; the numbers are checked against a count of the
generated events made here in Python.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import REPORT_FORMATS, main
from analytics.event import Event
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 10, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(14)]  # 1-14 October
NOW = datetime(2026, 10, 16, 1, tzinfo=UTC)
KEYS = {"devices": "device", "consent": "consent"}


def generated() -> list[Event]:
    events = events_for_days(random.Random(11), DAYS, per_day=50, visitors=15)
    return [
        e._replace(device="other") if not e.is_bot and i % 9 == 0 else e
        for i, e in enumerate(events)
    ]


EVENTS = generated()


def expected(
    events: Iterable[Event], key: str, first: date, last: date
) -> dict[str, tuple[int, int]]:
    """key -> (pageviews, sum of each site's daily distinct visitors) over first..last, bots
    left out (all sites added up, as a report without --site does)."""
    pageviews: dict[str, int] = defaultdict(int)
    daily: dict[tuple[str, date, str], set[int]] = defaultdict(set)
    for e in events:
        day = e.ts.astimezone(UTC).date()
        if e.is_bot or not first <= day <= last:
            continue
        value = getattr(e, key)
        pageviews[value] += 1
        if e.visitor_id is not None:
            daily[(value, day, e.site)].add(e.visitor_id)
    visitors: dict[str, int] = defaultdict(int)
    for (value, _, _), ids in daily.items():
        visitors[value] += len(ids)
    return {value: (count, visitors[value]) for value, count in pageviews.items()}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mix-reports")
    write_events(root / "spool", EVENTS)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(NOW)).run(root / "spool")
    return path


def report_json(db: Path, kind: str, *extra: str, capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(["report", kind, "--db", str(db), *extra, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", KEYS)
def test_numbers_are_the_events_counted(
    db: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = KEYS[kind]
    rows = report_json(db, kind, "--from", "2026-10-03", "--to", "2026-10-12", capsys=capsys)
    got = {row[key]: (row["pageviews"], row["visitors"]) for row in rows}
    assert got == expected(EVENTS, key, date(2026, 10, 3), date(2026, 10, 12))
    if kind == "devices":
        assert set(got) == {"desktop", "mobile", "tablet", "other"}  # never 'bot'
    else:
        assert set(got) == {"undecided", "all", "none", "custom"}
    assert [row["pageviews"] for row in rows] == sorted(
        (row["pageviews"] for row in rows), reverse=True
    )


@pytest.mark.parametrize("kind", KEYS)
def test_compare_gives_the_previous_period(
    db: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = KEYS[kind]
    rows = report_json(
        db, kind, "--from", "2026-10-08", "--to", "2026-10-14", "--compare", capsys=capsys
    )
    now = expected(EVENTS, key, date(2026, 10, 8), date(2026, 10, 14))
    before = expected(EVENTS, key, date(2026, 10, 1), date(2026, 10, 7))
    for row in rows:
        assert (row["pageviews"], row["visitors"]) == now.get(row[key], (0, 0))
        assert (row["pageviews_previous"], row["visitors_previous"]) == before[row[key]]
        assert row["pageviews_change"] == row["pageviews"] - row["pageviews_previous"]


def test_min_visitors_folds_small_rows(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts = expected(EVENTS, "device", date(2026, 10, 1), date(2026, 10, 1))
    threshold = sorted(visitors for _, visitors in counts.values())[1] + 1
    rows = report_json(
        db,
        "devices",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-01",
        "--min-visitors",
        str(threshold),
        capsys=capsys,
    )
    shown = {row["device"] for row in rows}
    small = {device for device, (_, visitors) in counts.items() if visitors < threshold}
    assert len(small) >= 2
    assert "(other)" in shown
    assert not shown & small


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
@pytest.mark.parametrize("kind", KEYS)
def test_every_format_by_week(
    db: Path, kind: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", kind, "--db", str(db), "--from", "2026-10-01", "--to", "2026-10-14"]
    assert main([*argv, "--grain", "week", "--compare", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(out)))
        assert header[0] == KEYS[kind]
    elif fmt == "html":
        assert "<svg" in out
        assert ("by device" if kind == "devices" else "by consent choice") in out
    elif fmt != "json":
        assert "desktop" in out if kind == "devices" else "undecided" in out


def test_reports_read_the_rollups_only(tmp_path: Path, db: Path) -> None:
    copy = tmp_path / "no-raw.duckdb"
    copy.write_bytes(db.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM events")
    for kind in KEYS:
        query = ReportQuery(kind=kind, start="2026-10-01", end="2026-10-14")
        assert run_report(copy, query).rows == run_report(db, query).rows


def as_schema_1(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE daily_devices")
        con.execute("DROP TABLE daily_consent")
        con.execute("UPDATE warehouse_meta SET value = '1' WHERE key = 'schema_version'")


def test_a_schema_1_warehouse_reports_no_rows_and_says_why(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.duckdb"
    old.write_bytes(db.read_bytes())
    as_schema_1(old)
    before = old.read_bytes()
    for kind in KEYS:
        report = run_report(old, ReportQuery(kind=kind, start="2026-10-01", end="2026-10-14"))
        assert report.rows == []
        assert any("figures yet" in note for note in report.notes)
    argv = ["report", "devices", "--db", str(old), "--from", "2026-10-01", "--to", "2026-10-14"]
    assert main(argv) == 0
    assert "no device figures yet" in capsys.readouterr().out
    # CSV and JSON have no notes: the missing figures are said on stderr, not a silent [].
    for form in ("json", "csv"):
        assert main([*argv, "--format", form]) == 0
        said = capsys.readouterr()
        assert "no device figures yet" in said.err
        assert "no device figures yet" not in said.out
    assert old.read_bytes() == before  # a report never writes


def test_days_pruned_before_the_upgrade_are_named(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, EVENTS)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW), raw_retention_days=7).run(spool)  # 1-8 Oct pruned
    as_schema_1(db)
    Warehouse(db, clock=fixed_clock(NOW + timedelta(hours=1)), raw_retention_days=7).run(spool)
    report = run_report(db, ReportQuery(kind="consent", start="2026-10-01", end="2026-10-14"))
    got = {row["consent"]: (row["pageviews"], row["visitors"]) for row in report.rows}
    assert got == expected(EVENTS, "consent", date(2026, 10, 9), date(2026, 10, 14))
    assert (
        "No consent figures for 8 day(s) with pageviews (2026-10-01 … 2026-10-08): their raw "
        "events were pruned before the warehouse kept daily_consent."
    ) in report.notes
    later = run_report(db, ReportQuery(kind="consent", start="2026-10-09", end="2026-10-14"))
    assert not any("No consent figures" in note for note in later.notes)


def test_a_year_of_rollups_reports_within_half_a_second(tmp_path: Path) -> None:
    db = tmp_path / "year.duckdb"
    (tmp_path / "spool").mkdir()
    Warehouse(db, clock=fixed_clock(NOW)).run(tmp_path / "spool")  # an empty warehouse
    with duckdb.connect(str(db)) as con:
        for table, values in (
            ("daily_devices", ["desktop", "mobile", "tablet", "other"]),
            ("daily_consent", ["undecided", "all", "none", "custom"]),
        ):
            # 365 days x 20 sites x 4 keys
            con.execute(
                f"INSERT INTO {table} SELECT DATE '2025-10-01' + CAST(d AS INTEGER), "
                "'site' || s || '.example', v, 100, 40 "
                "FROM range(365) AS a(d), range(20) AS b(s), unnest($values) AS c(v)",
                {"values": values},
            )
    for kind in KEYS:
        query = ReportQuery(
            kind=kind, start="2025-10-01", end="2026-09-30", grain="week", compare=True
        )
        best = min(_timed(db, query) for _ in range(3))
        assert best < 0.5, f"{kind}: {best:.3f} s"


def _timed(db: Path, query: ReportQuery) -> float:
    started = time.perf_counter()
    report = run_report(db, query)
    assert report.rows
    return time.perf_counter() - started
