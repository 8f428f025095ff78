"""Every "today" of a warehouse is the day its events of that moment are filed under.

`events.day` and every rollup day are cut by DuckDB (`timezone(zone, ts)`, the ICU time-zone
data bundled in duckdb). "Today" (raw retention, the reports' and the dashboard's default
range) came from Python's zoneinfo, another copy of the tz database. The two disagree about
15 zones in 2025-2027 on this machine (duckdb 2.0.1, tzdata 2025b): DuckDB keeps Canada's
Pacific, Mountain and Central zones on summer time after 2026-11-01, and Cuba too, and moves
Morocco to UTC+0 from 2026-09-20. Around midnight a site there saw an event of this moment
filed under one date while "today" was another: retention kept a day too many, and the
default range of a report ended on a day still under way (or left out yesterday).

Each case below is a moment near local midnight where the two copies name different dates
(`test_python_disagrees_at_these_moments` says whether they still do here). The controls
(UTC, Berlin, Kolkata) agree everywhere.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from analytics.dashboard.context import Context
from analytics.dashboard.snapshot import SnapshotStore, load
from analytics.render import render
from analytics.reports import ReportQuery, check, run_report, warehouse_today
from analytics.timezones import local_date
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

# zone, a moment (UTC) near local midnight
DISAGREEING = [
    ("America/Vancouver", datetime(2026, 11, 29, 7, 30, tzinfo=UTC)),  # DuckDB 00:30, Python 23:30
    ("America/Winnipeg", datetime(2026, 11, 29, 5, 30, tzinfo=UTC)),
    ("America/Edmonton", datetime(2027, 1, 15, 6, 15, tzinfo=UTC)),
    ("America/Havana", datetime(2026, 12, 10, 4, 30, tzinfo=UTC)),
    ("Africa/Casablanca", datetime(2026, 10, 5, 23, 30, tzinfo=UTC)),  # DuckDB 23:30, Python 00:30
]
AGREEING = [
    ("UTC", datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 11, 28, 23, 30, tzinfo=UTC)),
    ("Asia/Kolkata", datetime(2026, 11, 28, 18, 45, tzinfo=UTC)),
]
CASES = DISAGREEING + AGREEING


def duckdb_date(zone: str, instant: datetime) -> date:
    """The date DuckDB names, asked on its own (the definition the warehouse cuts days by)."""
    with duckdb.connect() as con:
        row = con.execute(
            "SELECT CAST(timezone($zone, $instant) AS DATE)", {"zone": zone, "instant": instant}
        ).fetchone()
    assert row is not None
    value: date = row[0]
    return value


def warehouse_at(root: Path, zone: str, now: datetime, *, retention: int = 90) -> Path:
    """A warehouse in `zone` rolled up at `now`, holding one visit of that very moment and
    one at noon (UTC) on each of the four days before."""
    events = [DIRECT_VISIT._replace(ts=now, visitor_id=1)]
    events += [
        DIRECT_VISIT._replace(
            ts=datetime(now.year, now.month, now.day, 12, tzinfo=UTC) - timedelta(days=back),
            visitor_id=back + 1,
        )
        for back in range(1, 5)
    ]
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, timezone=zone, clock=fixed_clock(now), raw_retention_days=retention).run(
        root / "spool"
    )
    return db


def day_filed(db: Path, now: datetime) -> date:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT day FROM events WHERE ts = $ts", {"ts": now}).fetchone()
    finally:
        con.close()
    assert row is not None
    value: date = row[0]
    return value


def days_filed(db: Path) -> list[date]:
    """The day each event is filed under (DuckDB's date of its ts in the warehouse's zone)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [row[0] for row in con.execute("SELECT day FROM events").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize(("zone", "now"), DISAGREEING)
def test_python_disagrees_at_these_moments(zone: str, now: datetime) -> None:
    # Not a property of the product: whether this machine's two copies of the tz data still
    # differ, i.e. whether the cases above test anything beyond the single source.
    if now.astimezone(ZoneInfo(zone)).date() == duckdb_date(zone, now):
        pytest.skip(f"Python's zoneinfo and DuckDB agree about {zone} here (newer tzdata)")


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_local_date_is_duckdbs_date(zone: str, now: datetime) -> None:
    assert local_date(now, zone) == duckdb_date(zone, now)
    with duckdb.connect() as con:
        assert local_date(now, zone, con) == duckdb_date(zone, now)
    naive = now.astimezone(UTC).replace(tzinfo=None)  # naive: UTC
    assert local_date(naive, zone) == duckdb_date(zone, now)


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_every_today_is_the_day_an_event_of_now_is_filed_under(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    db = warehouse_at(tmp_path, zone, now)
    filed = day_filed(db, now)
    assert filed == duckdb_date(zone, now)
    assert Warehouse(db, timezone=zone, clock=fixed_clock(now)).today() == filed
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert warehouse_today(con, now=now) == filed
    finally:
        con.close()
    for told in (None, zone):  # the warehouse's own zone, or `dashboard(timezone=zone)`
        ctx = Context(
            store=SnapshotStore(db),
            title="t",
            min_visitors=None,
            timezone=told,
            clock=fixed_clock(now),
        )
        assert ctx.today(load(db)) == filed
    assert ctx.today(None) == filed


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_retention_counts_back_from_the_day_of_now(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    # Retention 1 keeps the raw events of today and the day before, today being the day
    # the visit of this moment is filed under.
    db = warehouse_at(tmp_path, zone, now, retention=1)
    today = day_filed(db, now)
    con = duckdb.connect(str(db), read_only=True)
    try:
        kept = {row[0] for row in con.execute("SELECT DISTINCT day FROM events").fetchall()}
        rolled = {row[0] for row in con.execute("SELECT day FROM daily_totals").fetchall()}
    finally:
        con.close()
    assert kept == {day for day in rolled if day >= today - timedelta(days=1)}
    assert min(rolled) < today - timedelta(days=1)  # pruned days stay in the rollups


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_the_default_report_range_ends_on_the_day_before_the_day_of_now(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    db = warehouse_at(tmp_path, zone, now)
    con = duckdb.connect(str(db), read_only=True)
    try:
        today = warehouse_today(con, now=now)
    finally:
        con.close()
    window = check(ReportQuery(kind="summary", today=today))
    assert window.end == day_filed(db, now) - timedelta(days=1)
    report = run_report(db, ReportQuery(kind="summary", grain="day", today=today, top=None))
    rows = json.loads(render(report, "json"))
    # The visit of this moment is today's: the default range (ending yesterday) leaves it out.
    assert rows[-1]["period"] == (day_filed(db, now) - timedelta(days=1)).isoformat()
    # The visits at noon UTC of the four days before: 4, or 3 where this DuckDB's tz data
    # files the last of them under today (duckdb 1.1 has Vancouver on UTC-8 after November 1,
    # as tzdata does: 07:30 UTC is 23:30 of the day whose noon UTC was 04:00 there).
    in_range = [day for day in days_filed(db) if window.start <= day <= window.end]
    assert len(in_range) >= 3
    assert sum(row["pageviews"] for row in rows) == len(in_range)
