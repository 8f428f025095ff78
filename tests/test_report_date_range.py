"""The range a report covers: without `--to` it ends yesterday in the warehouse time zone, an
explicit date wins, help says so, and dates (or retentions) near the calendar's edges are
one-line errors.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.cli import main
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.cli_support import FIRST, build_one_day_warehouse, build_two_busy_days_warehouse
from tests.warehouse_support import (
    events_for_days,
    table_rows,
    write_events,
)


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", "--to", "0001-01-05"],
        ["trends", "--from", "1900-01-01", "--to", "8999-12-31"],
        ["referrers", "--from", "1900-01-01", "--to", "8999-12-31", "--compare"],
        ["summary", "--from", "1900-01-01", "--to", "8999-12-31", "--compare", "--grain", "month"],
    ],
)
def test_dates_near_the_calendar_edge_are_a_one_line_error(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the default start (28 days before --to) or the previous period fell before
    # year 1, and the report died with an OverflowError traceback and exit 1.
    db = build_one_day_warehouse(tmp_path)
    assert main(["report", *argv, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "out of bounds" in err


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_default_range_ends_yesterday_in_the_warehouse_time_zone(
    tmp_path: Path, zone: str
) -> None:
    # UTC+14 and UTC-11: at any hour one of them is on another date than UTC. Before, the
    # default range ended yesterday in UTC, so in Pago Pago (from 11:00 UTC on) it took in
    # the local day still under way, and in Kiritimati it left out a complete day; the
    # dashboard already used the warehouse's zone.
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(26), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone=zone).run(spool)
    before = datetime.now(ZoneInfo(zone)).date() - timedelta(days=1)
    report = run_report(db, ReportQuery(kind="summary"))
    after = datetime.now(ZoneInfo(zone)).date() - timedelta(days=1)
    assert report.end in {before, after}
    assert report.end - report.start == timedelta(days=27)


def test_an_explicit_today_still_wins(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(27), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone="Pacific/Kiritimati").run(spool)
    report = run_report(db, ReportQuery(kind="summary", today=date(2026, 10, 29)))
    assert (report.start, report.end) == (FIRST, date(2026, 10, 28))


@pytest.mark.parametrize("raw_days", ["1000000", "99999999"])
def test_a_retention_that_reaches_before_year_1_keeps_everything(
    tmp_path: Path, raw_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Keep raw events for good": before, any --raw-days past today's distance from year 1
    # died with an OverflowError traceback (exit 1) in rollup and in prune.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(29), [FIRST], per_day=20)
    write_events(spool, events)
    db = tmp_path / "w.duckdb"
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--raw-days", raw_days]) == 0
    assert main(["prune", "--db", str(db), "--raw-days", raw_days]) == 0
    out = capsys.readouterr().out
    assert "pruned 0 raw events" in out
    assert len(table_rows(db, "events")) == len(events)
    assert Warehouse(db, raw_retention_days=int(raw_days)).prune() == 0


def test_from_the_warehouse_yesterday_alone_is_a_one_day_range(tmp_path: Path) -> None:
    # `--from` = yesterday in Kiritimati (UTC+14), no `--to`: one day. Before, the range was
    # first checked against yesterday in UTC, a day earlier from 10:00 UTC on, and refused as
    # "start … is after end …" before the warehouse's zone was known. (From 00:00 to 10:00
    # UTC both zones share a date and this passed either way.)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(37), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    zone = ZoneInfo("Pacific/Kiritimati")
    Warehouse(db, timezone="Pacific/Kiritimati").run(spool)
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    report = run_report(db, ReportQuery(kind="summary", start=yesterday))
    if datetime.now(zone).date() - timedelta(days=1) == yesterday:  # not across midnight
        assert (report.start, report.end) == (yesterday, yesterday)


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_two_busy_days_warehouse(tmp_path_factory.mktemp("small"))


def test_a_start_after_the_default_end_says_the_end_was_the_default(
    small_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `report summary --from <today>` (an analyst wanting today's numbers): before, "start
    # 2026-11-28 is after end 2026-11-27", an end nobody had given.
    today = datetime.now(UTC).date() + timedelta(days=1)  # today in every zone, or after it
    assert main(["report", "summary", "--db", str(small_warehouse), "--from", str(today)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is after end" in err
    assert "(no end given: yesterday, the last complete day)" in err


def test_report_help_says_what_the_range_is_without_from_and_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: "--from DATE  first day (YYYY-MM-DD)", and nothing said which days a report
    # without them covers (the last 28 complete days).
    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--from DATE first day, YYYY-MM-DD (default: 28 days ending with --to)" in text
    assert "--to DATE last day, YYYY-MM-DD (default: yesterday, the last complete day)" in text
