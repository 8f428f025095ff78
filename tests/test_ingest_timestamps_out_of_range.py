"""A segment whose `ts` lies where no day can be named (year 0 or 10000 in the warehouse's time
zone, epoch nanoseconds stored as microseconds) is damaged: quarantined with one line, and the
rest of the spool is ingested, on this run and every later one. Before, such a segment gave a
TypeError traceback on every run, so nothing more was ever ingested."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.event import to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

DAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 29, tzinfo=UTC)
# 2026-11-28 in epoch nanoseconds, written into a microsecond column: about year 58 800.
NANOSECONDS_AS_MICROSECONDS = 1_795_824_000_000_000_000


def _spool_with_odd_segment(root: Path, raw_ts: int, *, statistics: bool) -> Path:
    """A spool of one good segment and one (`odd.parquet`) whose single event has `ts` =
    `raw_ts` microseconds since the epoch, with or without Parquet statistics."""
    spool = root / "spool"
    write_segment(spool, DAY, to_table([DIRECT_VISIT]))
    odd = to_table([DIRECT_VISIT._replace(path="/odd")])
    ts = pa.array([raw_ts], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    pq.write_table(
        odd.set_column(0, "ts", ts),
        spool / f"day={DAY.isoformat()}" / "odd.parquet",
        write_statistics=statistics,
    )
    return spool


def _micros(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


CASES = {
    # The UTC instant is a fine datetime; its local day is 10000-01-01.
    "year 10000 in Etc/GMT-14": ("Etc/GMT-14", _micros(datetime(9999, 12, 31, 23, tzinfo=UTC))),
    # ... and 0000-12-31 here.
    "year 0 in Etc/GMT+12": ("Etc/GMT+12", _micros(datetime(1, 1, 1, 1, tzinfo=UTC))),
    "epoch nanoseconds as microseconds": ("UTC", NANOSECONDS_AS_MICROSECONDS),
    "negative nanoseconds as microseconds": ("Europe/Berlin", -NANOSECONDS_AS_MICROSECONDS),
}


@pytest.mark.parametrize("statistics", [True, False], ids=["with-stats", "no-stats"])
@pytest.mark.parametrize(("zone", "raw_ts"), list(CASES.values()), ids=list(CASES))
def test_a_segment_with_a_timestamp_no_day_can_hold_is_quarantined(
    tmp_path: Path, zone: str, raw_ts: int, statistics: bool
) -> None:
    spool = _spool_with_odd_segment(tmp_path, raw_ts, statistics=statistics)
    db = tmp_path / "w.duckdb"
    warehouse = Warehouse(db, timezone=zone, clock=fixed_clock(NOW))

    result = warehouse.run(spool)

    assert result.ingest.quarantined == (f"day={DAY.isoformat()}/odd.parquet",)
    assert (spool / "quarantine" / f"day={DAY.isoformat()}" / "odd.parquet").is_file()
    assert result.ingest.events == 1
    assert {row[1:] for row in table_rows(db, "daily_pages")} == {("example.com", "/", 1, 1)}
    # The next run has nothing left to trip on.
    write_segment(spool, DAY, to_table([DIRECT_VISIT._replace(path="/later")]))
    assert Warehouse(db, clock=fixed_clock(NOW)).run(spool).ingest.events == 1


def test_the_cli_quarantines_it_with_one_line_and_exit_0(tmp_path: Path) -> None:
    spool = _spool_with_odd_segment(
        tmp_path, _micros(datetime(9999, 12, 31, 23, tzinfo=UTC)), statistics=False
    )
    db = tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", str(spool), "--db", str(db), "--timezone", "Etc/GMT-14"]

    done = subprocess.run(
        [sys.executable, "-m", "analytics", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "ingested 1 segment (1 event, 1 day)" in done.stdout
    assert "quarantined 1 corrupt segment" in done.stdout
    assert "Traceback" not in done.stderr
    assert "odd.parquet" in done.stderr
    assert len(done.stderr.splitlines()) == 1
