"""A site time zone moves the day boundaries of `day` and every rollup; `ts` stays UTC.
Checked across both daylight-saving changes of Europe/Berlin in 2026 (23 h and 25 h days)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    make_event,
    python_knows,
    table_rows,
    tally,
    write_events,
)

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (ts in UTC, its day in Europe/Berlin)
BERLIN_BOUNDARIES = [
    ("2026-03-28 22:59:59.999999", date(2026, 3, 28)),  # 23:59:59 CET
    ("2026-03-28 23:00:00", date(2026, 3, 29)),  # midnight CET starts the 23-hour day
    ("2026-03-29 00:59:59", date(2026, 3, 29)),  # 01:59:59 CET, just before the jump
    ("2026-03-29 01:00:00", date(2026, 3, 29)),  # 03:00 CEST
    ("2026-03-29 21:59:59", date(2026, 3, 29)),  # 23:59:59 CEST
    ("2026-03-29 22:00:00", date(2026, 3, 30)),  # midnight CEST
    ("2026-10-24 21:59:59", date(2026, 10, 24)),
    ("2026-10-24 22:00:00", date(2026, 10, 25)),  # midnight CEST starts the 25-hour day
    ("2026-10-25 00:30:00", date(2026, 10, 25)),  # 02:30 CEST (first time)
    ("2026-10-25 01:30:00", date(2026, 10, 25)),  # 02:30 CET (second time)
    ("2026-10-25 22:59:59", date(2026, 10, 25)),  # 23:59:59 CET
    ("2026-10-25 23:00:00", date(2026, 10, 26)),
]


@pytest.mark.parametrize(("ts", "local_day"), BERLIN_BOUNDARIES)
@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC"])
def test_day_is_the_local_date_of_ts(tmp_path: Path, ts: str, local_day: date, zone: str) -> None:
    event = make_event(random.Random(1), utc(ts))
    write_events(tmp_path / "spool", [event])
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone=zone, clock=fixed_clock(NOW), raw_retention_days=365).run(
        tmp_path / "spool"
    )
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT ts, day FROM events").fetchall()
        totals = con.execute("SELECT day FROM daily_totals").fetchall()
    finally:
        con.close()
    expected = local_day if zone == "Europe/Berlin" else utc(ts).date()
    assert rows == [(utc(ts).replace(microsecond=0), expected)]  # in UTC, floored to the second
    assert totals == [(expected,)]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_rollups_follow_the_local_day_across_dst(tmp_path: Path, zone: str) -> None:
    rng = random.Random(2)
    around = [date(2026, 3, 27) + timedelta(days=i) for i in range(4)]
    around += [date(2026, 10, 23) + timedelta(days=i) for i in range(4)]
    events = events_for_days(rng, around, per_day=150)
    write_events(tmp_path / "spool", events)
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone=zone, clock=fixed_clock(NOW), raw_retention_days=365).run(
        tmp_path / "spool"
    )
    expected = tally(events, zone)
    for table in ROLLUP_TABLES:
        assert table_rows(db, table) == expected[table], table


def test_dst_days_have_23_and_25_hours_of_events(tmp_path: Path) -> None:
    # One event at the start of every UTC hour: the local days hold 23 and 25 of them.
    start = utc("2026-03-27 00:00:00")
    spring = [
        make_event(random.Random(i), start + timedelta(hours=i), site="example.com")
        for i in range(24 * 4)
    ]
    start = utc("2026-10-23 00:00:00")
    autumn = [
        make_event(random.Random(i), start + timedelta(hours=i), site="example.com")
        for i in range(24 * 4)
    ]
    write_events(tmp_path / "spool", spring + autumn)
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone="Europe/Berlin", clock=fixed_clock(NOW), raw_retention_days=365).run(
        tmp_path / "spool"
    )
    con = duckdb.connect(str(db), read_only=True)
    try:
        per_day = dict(con.execute("SELECT day, pageviews + bot_hits FROM daily_totals").fetchall())
    finally:
        con.close()
    assert per_day[date(2026, 3, 29)] == 23
    assert per_day[date(2026, 10, 25)] == 25
    assert per_day[date(2026, 3, 28)] == 24


def test_prune_counts_days_back_from_the_local_today(tmp_path: Path) -> None:
    # 2026-11-19 23:30 UTC is already 2026-11-20 in Berlin: 10 days back is 2026-11-10.
    clock = fixed_clock(utc("2026-11-19 23:30:00"))
    events = events_for_days(random.Random(3), [date(2026, 11, 9)], per_day=20)
    events += events_for_days(random.Random(4), [date(2026, 11, 10)], per_day=20)
    write_events(tmp_path / "spool", events)
    db = tmp_path / "w.duckdb"
    wh = Warehouse(db, timezone="Europe/Berlin", clock=clock, raw_retention_days=10)
    assert wh.today() == date(2026, 11, 20)
    wh.run(tmp_path / "spool")
    kept_days = {row[-1] for row in table_rows(db, "events")}
    assert min(kept_days) == date(2026, 11, 10)
    assert {row[0] for row in table_rows(db, "daily_totals")} >= {date(2026, 11, 9)}


DAY = date(2026, 11, 1)
NOW_NOV_5 = datetime(2026, 11, 5, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["localtime", "posixrules"])
def test_a_zone_duckdb_does_not_know_is_refused_before_it_is_stored(
    tmp_path: Path, zone: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python's zoneinfo reads these files from /usr/share/zoneinfo; DuckDB's ICU has no
    # such zone. Before: the name was stored for good, and every run failed with "reading
    # the new segments failed twice" (blaming the segments); only a new file helped.
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(13), [DAY], per_day=50)
    write_events(spool, events)
    db = tmp_path / "w.duckdb"
    # A ValueError since validate_timezone names these host files (configuration, as for
    # any unknown name); a WarehouseError when only DuckDB's check caught them.
    with pytest.raises((ValueError, WarehouseError), match="time zone"):
        Warehouse(db, timezone=zone, clock=fixed_clock(NOW_NOV_5)).run(spool)
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--timezone", zone]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert f"time zone {zone!r}" in err
    # Nothing was fixed in the file: the same database still takes a real zone.
    Warehouse(db, timezone="Europe/Berlin", clock=fixed_clock(NOW_NOV_5)).run(spool)
    assert table_rows(db, "daily_totals") == tally(events, "Europe/Berlin")["daily_totals"]
