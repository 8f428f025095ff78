"""A segment whose footer's `ts` min/max disagree with its rows (a flipped bit in the footer).

Ingest takes the days a segment touches from those statistics, to spare reading its `ts`
column. A range narrower than the rows, in a warehouse whose days are not UTC's, left a day
that received events out of the rollup: its raw events were stored, its rollup rows never
made. The ingest now counts the touched days' events before and after the insert; a
difference from the number inserted means some footer lied, and the days are read from
the rows, with a warning naming the segment.
"""

from __future__ import annotations

import logging
import shutil
import struct
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.event import to_table
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.timezones import local_date
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _flip(path: Path, which: str) -> None:
    """Flip one bit (2**32 us and up: 72 minutes or more) of the footer's `ts` `which`
    statistic: a set bit of the max (earlier), a clear bit of the min (later)."""
    stats = pq.read_metadata(path).row_group(0).column(0).statistics
    value = stats.max if which == "max" else stats.min
    micros = (value - EPOCH) // timedelta(microseconds=1)
    bit = next(b for b in range(32, 40) if bool(micros >> b & 1) == (which == "max"))
    data = bytearray(path.read_bytes())
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    old, new = struct.pack("<q", micros), struct.pack("<q", micros ^ (1 << bit))
    assert old in data[footer_start:]
    data[footer_start:] = data[footer_start:].replace(old, new)
    path.write_bytes(bytes(data))
    flipped = pq.read_metadata(path).row_group(0).column(0).statistics
    assert (flipped.max if which == "max" else flipped.min) != value


# (zone, first event in UTC, the statistic damaged): 120 events a minute apart that cross
# the zone's midnight, so that the damaged range leaves one of the two days out.
CASES = [
    ("Europe/Berlin", datetime(2026, 11, 1, 22, 0, tzinfo=UTC), "max"),
    ("Asia/Kolkata", datetime(2026, 11, 1, 17, 45, tzinfo=UTC), "max"),
    ("America/New_York", datetime(2026, 11, 10, 4, 0, tzinfo=UTC), "min"),
    ("Pacific/Auckland", datetime(2026, 11, 10, 10, 0, tzinfo=UTC), "min"),
    # Controls: the damaged range still names both days (or the one), before as after.
    ("UTC", datetime(2026, 11, 1, 21, 0, tzinfo=UTC), "max"),
    ("Europe/Berlin", datetime(2026, 11, 1, 12, 0, tzinfo=UTC), "max"),
]


def _segment(spool: Path, first: datetime) -> Path:
    events = [DIRECT_VISIT._replace(ts=first + timedelta(minutes=i)) for i in range(120)]
    return write_segment(spool, first.date(), to_table(events))


@pytest.mark.parametrize(("zone", "first", "which"), CASES)
def test_every_day_of_the_rows_is_rolled_up(
    tmp_path: Path, zone: str, first: datetime, which: str, caplog: pytest.LogCaptureFixture
) -> None:
    segment = _segment(tmp_path / "spool", first)
    shutil.copytree(tmp_path / "spool", tmp_path / "clean")
    _flip(segment, which)
    with caplog.at_level(logging.WARNING, logger="analytics"):
        damaged = Warehouse(tmp_path / "damaged.duckdb", timezone=zone, clock=fixed_clock(NOW))
        result = damaged.run(tmp_path / "spool")
    clean = Warehouse(tmp_path / "clean.duckdb", timezone=zone, clock=fixed_clock(NOW))
    expected = clean.run(tmp_path / "clean")

    assert result.ingest.days == expected.ingest.days
    assert result.rolled_up == expected.rolled_up
    assert result.ingest.quarantined == ()
    for table in ("events", *ROLLUP_TABLES):
        got = table_rows(tmp_path / "damaged.duckdb", table)
        assert got == table_rows(tmp_path / "clean.duckdb", table), table
    days = {row[0] for row in table_rows(tmp_path / "damaged.duckdb", "daily_totals")}
    assert days == {row[-1] for row in table_rows(tmp_path / "damaged.duckdb", "events")}
    lied = len(expected.ingest.days) != len(_footer_days(zone, segment))
    warned = [r.getMessage() for r in caplog.records if "statistics" in r.getMessage()]
    name = segment.relative_to(tmp_path / "spool").as_posix()
    assert bool(warned) == lied
    assert all(name in line for line in warned)


def _footer_days(zone: str, segment: Path) -> set[date]:
    """The days the damaged footer names (the two ends of its range, in `zone`)."""
    stats = pq.read_metadata(segment).row_group(0).column(0).statistics
    return {local_date(stats.min, zone), local_date(stats.max, zone)}


def test_a_late_segment_of_a_pruned_day_is_merged_into_it(tmp_path: Path) -> None:
    # Berlin's 2 November is rolled up and pruned; a late segment whose footer names only
    # the 1st holds events of the 2nd too: they are added to the 2nd's rows, as when the
    # footer is right, never left raw in a pruned day.
    zone, first = "Europe/Berlin", datetime(2026, 11, 1, 22, 0, tzinfo=UTC)
    dbs = {}
    for label in ("damaged", "clean"):
        spool = tmp_path / label
        _segment(spool, first + timedelta(hours=3))  # the 2nd's own events, on time
        dbs[label] = tmp_path / f"{label}.duckdb"
        Warehouse(dbs[label], timezone=zone, clock=fixed_clock(NOW)).run(spool)
        Warehouse(dbs[label], clock=fixed_clock(NOW)).prune(1)
        late = _segment(spool, first)
        if label == "damaged":
            _flip(late, "max")
        Warehouse(dbs[label], clock=fixed_clock(NOW)).run(spool)
    for table in ("events", *ROLLUP_TABLES):
        assert table_rows(dbs["damaged"], table) == table_rows(dbs["clean"], table), table
