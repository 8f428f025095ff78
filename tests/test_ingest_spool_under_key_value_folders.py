"""A spool kept under a folder named `key=value` (`/srv/site=example.com/spool`, a common way
to lay out one spool per site) is ingested with the events' own values.

DuckDB's `read_parquet` takes every `key=value` folder on a file's path for a Hive partition
and, where the key names a column of the file, puts the folder's value in that column. So
under `site=other/` every event's site became "other", under `is_bot=true/` every visit
counted as a bot, and under `ts=2020-01-01/` every event moved to 2020 and was pruned at once
while its real days were rolled up empty."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    table_rows,
    tally,
    write_events,
)

DAYS = [date(2026, 11, 27), date(2026, 11, 28)]
NOW = datetime(2026, 11, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    "folder",
    [
        "site=other",
        "path=x",
        "ts=2020-01-01",
        "is_bot=true",
        "status=500",
        "visitor_id=5",
        "referrer_medium=direct",
        "utm_campaign=leak",
        "consent=all",
    ],
)
@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_a_spool_under_a_key_value_folder_keeps_the_events_values(
    tmp_path: Path, folder: str, timezone: str
) -> None:
    spool = tmp_path / folder / "spool"
    events = events_for_days(random.Random(21), DAYS, per_day=40)
    write_events(spool, events, per_segment=15)
    db = tmp_path / "w.duckdb"

    result = Warehouse(db, timezone=timezone, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.events == len(events)
    assert result.pruned_events == 0
    zone = ZoneInfo(timezone)
    assert table_rows(db, "events") == {
        (*e._replace(ts=e.ts.replace(microsecond=0)), e.ts.astimezone(zone).date()) for e in events
    }  # ts floored to the second, its day from the segment's own ts
    expected = tally(events, timezone)
    for table in ROLLUP_TABLES:
        assert table_rows(db, table) == expected[table], table
