"""`Warehouse(db).today()` on a database built with a time zone, opened without `timezone=`:
today in the stored zone, before any run of this object (not UTC until the first run)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.errors import WarehouseLockedError
from analytics.timezones import local_date
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    table_rows,
    write_events,
    writer_holding,
)

BUILT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# Moments near midnight where the zone's date and UTC's differ (and one where they agree).
CASES = [
    ("Europe/Berlin", datetime(2026, 11, 19, 23, 30, tzinfo=UTC)),  # already the 20th
    ("Asia/Kolkata", datetime(2026, 11, 19, 18, 45, tzinfo=UTC)),  # 00:15 on the 20th
    ("Asia/Kolkata", datetime(2026, 11, 19, 18, 15, tzinfo=UTC)),  # 23:45 on the 19th
    ("America/Los_Angeles", datetime(2026, 11, 20, 3, 0, tzinfo=UTC)),  # still the 19th
    ("Pacific/Kiritimati", datetime(2026, 11, 19, 10, 30, tzinfo=UTC)),  # UTC+14: the 20th
    ("Pacific/Pago_Pago", datetime(2026, 11, 20, 10, 30, tzinfo=UTC)),  # UTC-11: the 19th
]


def _built(tmp_path: Path, zone: str | None) -> Path:
    db = tmp_path / "w.duckdb"
    (tmp_path / "spool").mkdir()
    Warehouse(db, timezone=zone, clock=fixed_clock(BUILT)).run(tmp_path / "spool")
    return db


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_today_before_any_run_is_in_the_stored_zone(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    db = _built(tmp_path, zone)
    expected = local_date(now, zone)
    assert Warehouse(db, clock=fixed_clock(now)).today() == expected
    assert Warehouse(db, timezone=zone, clock=fixed_clock(now)).today() == expected


@pytest.mark.parametrize(("zone", "now"), CASES)
def test_today_does_not_fix_the_zone_of_a_later_run(
    tmp_path: Path, zone: str, now: datetime
) -> None:
    db = _built(tmp_path, zone)
    wh = Warehouse(db, clock=fixed_clock(now))
    wh.today()
    wh.run(tmp_path / "spool")  # the stored zone, not refused as another one
    assert wh.today() == local_date(now, zone)


@pytest.mark.parametrize("now", [now for _, now in CASES])
def test_a_missing_or_utc_database_counts_in_utc(tmp_path: Path, now: datetime) -> None:
    assert Warehouse(tmp_path / "new.duckdb", clock=fixed_clock(now)).today() == now.date()
    assert not (tmp_path / "new.duckdb").exists()  # asking does not create it
    db = _built(tmp_path, None)
    assert Warehouse(db, clock=fixed_clock(now)).today() == now.date()


def test_a_database_held_by_a_writer_is_waited_for_then_refused(tmp_path: Path) -> None:
    db = _built(tmp_path, "Asia/Kolkata")
    with writer_holding(db):
        wh = Warehouse(db, clock=fixed_clock(CASES[1][1]), lock_timeout=0.2)
        with pytest.raises(WarehouseLockedError):
            wh.today()


def test_prune_without_timezone_counts_back_from_the_stored_zones_today(tmp_path: Path) -> None:
    # 2026-11-19 18:45 UTC is 2026-11-20 00:15 in Kolkata: 10 days back is 2026-11-10.
    events = events_for_days(random.Random(3), [date(2026, 11, 9)], per_day=20)
    events += events_for_days(random.Random(4), [date(2026, 11, 11)], per_day=20)
    write_events(tmp_path / "spool", events)
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone="Asia/Kolkata", clock=fixed_clock(BUILT), raw_retention_days=3650).run(
        tmp_path / "spool"
    )
    Warehouse(db, clock=fixed_clock(CASES[1][1])).prune(10)
    kept_days = {row[-1] for row in table_rows(db, "events")}
    assert min(kept_days) == date(2026, 11, 10)
