"""A report on the day of the first rollup: the default range ends yesterday, so it is empty,
and it says why and how to see today's pageviews instead of printing a bare "(no rows)"."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

TODAY = date(2026, 11, 29)
HINT = "the range ends yesterday (the last complete day)"


def _warehouse(tmp_path: Path, days: list[date], *, site: str | None = None) -> Path:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(7), days, 40, site=site))
    db = tmp_path / "wh.duckdb"
    now = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
    Warehouse(db, clock=fixed_clock(now)).run(spool)
    return db


def _pageviews(db: Path, day: date) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT sum(pageviews) FROM daily_totals WHERE day = ?", [day]).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("kind", ["referrers", "summary", "pages", "trends"])
def test_only_todays_events_give_a_warning_naming_today(tmp_path: Path, kind: str) -> None:
    db = _warehouse(tmp_path, [TODAY])
    report = run_report(db, ReportQuery(kind=kind, today=TODAY))
    expected = (
        f"no pageviews from {TODAY - timedelta(days=28)} to {TODAY - timedelta(days=1)}; {HINT} "
        f"and {_pageviews(db, TODAY)} pageviews are after it: --to {TODAY} "
        "includes them"
    )
    assert report.warnings == (expected,)
    assert expected in report.notes
    # ... and what it advises works: the same report with --to today has rows.
    assert run_report(db, ReportQuery(kind=kind, today=TODAY, end=TODAY)).rows


@pytest.mark.parametrize(
    ("days", "query"),
    [
        ([TODAY - timedelta(days=1), TODAY], {}),  # the range has pageviews: no hint
        ([TODAY], {"end": TODAY}),  # an end was given: the user chose the range
        ([TODAY], {"end": TODAY - timedelta(days=1)}),
        ([TODAY - timedelta(days=40)], {}),  # nothing after the range either
        ([TODAY], {"site": "elsewhere.example"}),  # the site has nothing after it
    ],
)
def test_no_hint_when_the_range_is_not_what_hides_the_pageviews(
    tmp_path: Path, days: list[date], query: dict[str, object]
) -> None:
    db = _warehouse(tmp_path, days, site="example.com")
    report = run_report(db, ReportQuery(kind="referrers", today=TODAY, **query))  # type: ignore[arg-type]
    assert not any(HINT in warning for warning in report.warnings)


def test_only_bot_hits_after_the_range_give_no_hint(tmp_path: Path) -> None:
    db = _warehouse(tmp_path, [TODAY])
    import duckdb

    with duckdb.connect(str(db)) as con:  # as if every event today had been a bot's
        con.execute("UPDATE daily_totals SET bot_hits = bot_hits + pageviews, pageviews = 0")
    report = run_report(db, ReportQuery(kind="summary", today=TODAY))
    assert report.warnings == ()


def test_the_cli_prints_the_hint_on_stderr_and_keeps_json_on_stdout_clean(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    today = datetime.now(UTC).date()
    write_events(spool, events_for_days(random.Random(3), [today], 25))
    db = tmp_path / "wh.duckdb"
    cli = [sys.executable, "-m", "analytics"]
    rollup = subprocess.run(
        [*cli, "rollup", "--spool", str(spool), "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert rollup.returncode == 0, rollup.stderr
    report = subprocess.run(
        [*cli, "report", "referrers", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if datetime.now(UTC).date() != today:  # midnight passed between the two: no verdict
        pytest.skip("the UTC day changed during the test")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout) == []
    assert HINT in report.stderr
    assert f"--to {today} includes them" in report.stderr
    assert report.stderr.count("\n") == 1  # one line
