"""A segment whose `ts` has no zone (another writer's Parquet: Spark, pandas, a backfill
script) holds UTC times, as everywhere else in the warehouse: its events are filed under the
day of that UTC instant in the warehouse's zone, not under the day of the same wall clock.

Before, `timezone($tz, ts)` read a zoneless 23:30 as 23:30 in Berlin, so an event at 23:30
UTC (00:30 the next day in Berlin) was filed under the day before, and its footer's zoneless
statistics were reported as a damaged footer. Real Parquet files and a real DuckDB file.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.event import Event, to_table
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import fixed_clock, make_event, table_rows, tally

DAY = date(2026, 11, 29)
NOW = datetime(2026, 12, 2, 6, tzinfo=UTC)


def _events_around_midnights(zone: str) -> list[Event]:
    """Events each side of DAY's midnight in UTC and in `zone`, whole seconds."""
    rng = random.Random(21)
    local_midnight = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), ZoneInfo(zone))
    utc_midnight = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    times = [
        midnight + timedelta(minutes=offset)
        for midnight in (local_midnight.astimezone(UTC), utc_midnight)
        for offset in (-90, -30, -1, 1, 30, 90)
    ]
    return [make_event(rng, when) for when in times for _ in range(3)]


def _zoneless_segment(spool: Path, events: list[Event]) -> None:
    table = to_table(events)
    column = table.schema.get_field_index("ts")
    table = table.set_column(
        column, pa.field("ts", pa.timestamp("us")), table.column("ts").cast(pa.timestamp("us"))
    )
    folder = spool / f"day={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(None), folder / "1764374400000-other-1.parquet")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
def test_a_zoneless_ts_is_a_utc_time(
    zone: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = _events_around_midnights(zone)
    spool = tmp_path / "spool"
    _zoneless_segment(spool, events)
    db = tmp_path / "w.duckdb"

    with caplog.at_level(logging.WARNING):
        result = Warehouse(db, timezone=zone, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.events == len(events)
    local = ZoneInfo(zone)
    assert table_rows(db, "events") == {(*e, e.ts.astimezone(local).date()) for e in events}
    assert set(result.ingest.days) == {e.ts.astimezone(local).date() for e in events}
    expected = tally(events, zone)
    for table in ROLLUP_TABLES:
        assert table_rows(db, table) == expected[table], table
    assert "damaged footer" not in caplog.text
