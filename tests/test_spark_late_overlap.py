"""New segments of an unpruned spool day whose events overlap a pruned local day.

With a site time zone a local day spans two UTC (spool) days. When one of them is pruned, the
local day is never recomputed (part of its events is gone); a segment arriving later in the
OTHER, unpruned spool day still has events in it. Those are added to that local day's rollups,
as late segments are (pageviews exact, visitors possibly counting someone twice), while the
other local days the segment reaches are recomputed as usual. The gained segments are known by
name (``_spool_names/``), so they are added exactly once.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import analytics.spark as spark_module
from analytics.event import Event, to_table
from analytics.spark import plan_days
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.spark_support import PATHS, SITES, SPOOL, day, fingerprints, rerun, stop_once_at
from tests.warehouse_support import DIRECT_VISIT, sorted_rows

# -- the plan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "recomputed", "added_to"),
    [
        # Berlin: UTC day 1 reaches local days 1 and 2; local day 1 also overlaps pruned UTC
        # day 0, so the new segment's events in it are added; local day 2 is recomputed.
        ("Europe/Berlin", {day(2)}, day(1)),
        # Los Angeles: UTC day 1 reaches local days 0 and 1; local day 0 overlaps UTC day 0.
        ("America/Los_Angeles", {day(1)}, day(0)),
    ],
)
def test_a_grown_day_adds_its_new_segments_to_the_pruned_local_day_it_reaches(
    tz: str, recomputed: set[date], added_to: date
) -> None:
    first = plan_days(fingerprints(SPOOL), {}, tz, names=SPOOL)
    spool = {d: n for d, n in SPOOL.items() if d != day(0)}
    second = plan_days(fingerprints(spool), rerun(first.state), tz, names=spool, known=SPOOL)
    assert second.overlap_segments == {}

    spool[day(1)] = (*SPOOL[day(1)], "1-9.parquet")
    third = plan_days(fingerprints(spool), rerun(second.state), tz, names=spool, known=SPOOL)
    assert third.local_days == recomputed
    assert third.skipped == (added_to,)
    assert third.overlap_segments == {day(1): ("1-9.parquet",)}
    assert third.overlap_days == {added_to}
    assert third.late_segments == {}  # the day is whole: not pruned, not late
    assert third.state[day(1).isoformat()] == {
        "count": 4,
        "digest": fingerprints(spool)[day(1)][1],
    }


def test_without_the_names_a_grown_day_had_nothing_is_added() -> None:
    # An output from before names were kept: which segments are new is unknown, so the
    # pruned local day is only reported, as before.
    spool = {d: n for d, n in SPOOL.items() if d != day(0)}
    first = plan_days(fingerprints(SPOOL), {}, "Europe/Berlin", names=SPOOL)
    second = plan_days(fingerprints(spool), rerun(first.state), "Europe/Berlin", names=spool)
    spool[day(1)] = (*SPOOL[day(1)], "1-9.parquet")
    third = plan_days(fingerprints(spool), rerun(second.state), "Europe/Berlin", names=spool)
    assert third.skipped == (day(1),)
    assert third.overlap_segments == {}
    assert third.overlap_days == set()


def test_in_utc_no_local_day_overlaps_another_spool_day() -> None:
    spool = {d: n for d, n in SPOOL.items() if d != day(0)}
    first = plan_days(fingerprints(SPOOL), {}, "UTC", names=SPOOL)
    second = plan_days(fingerprints(spool), rerun(first.state), "UTC", names=spool, known=SPOOL)
    spool[day(1)] = (*SPOOL[day(1)], "1-9.parquet")
    third = plan_days(fingerprints(spool), rerun(second.state), "UTC", names=spool, known=SPOOL)
    assert third.local_days == {day(1)}
    assert third.skipped == ()
    assert third.overlap_segments == {}


# -- on Spark, against the warehouse --------------------------------------------------------

CLOCK = datetime.combine(day(3), datetime.min.time(), UTC) + timedelta(hours=12)


def _events(seed: int, utc_day: date, count: int) -> list[Event]:
    rng = random.Random(seed)
    start = datetime.combine(utc_day, datetime.min.time(), UTC)
    events = []
    for _ in range(count):
        # Many in the hours that belong to a neighbouring local day in Berlin or Los Angeles.
        hour = rng.choice((0, 3, 6, 22, 23)) if rng.random() < 0.5 else rng.randrange(24)
        is_bot = rng.random() < 0.1
        events.append(
            DIRECT_VISIT._replace(
                ts=start + timedelta(hours=hour, seconds=rng.randrange(3600)),
                site=rng.choice(SITES),
                path=rng.choice(PATHS),
                visitor_id=None if rng.random() < 0.15 else rng.randrange(40),
                device="bot" if is_bot else "desktop",
                is_bot=is_bot,
                consent="all",
            )
        )
    return sorted(events)


def _pageviews(db: Path, local_day: date) -> int:
    return sum(row[2] for row in sorted_rows(db, "daily_totals") if row[0] == local_day)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    ("timezone", "pruned_local", "stop_at", "late_in_pruned"),
    [
        ("Europe/Berlin", day(1), None, False),
        ("America/Los_Angeles", day(0), None, False),
        # Stopped after the sums and the new state are recorded, before the live partitions
        # change: the next run applies the same staged rows, so the segment counts once.
        ("Europe/Berlin", day(1), "_apply_late_staging", False),
        # A late segment in pruned spool day 0 as well, in the same run: both are summed
        # into local day 1 by one staging (neither overwrites the other's sums).
        ("Europe/Berlin", day(1), None, True),
    ],
)
def test_a_new_segment_overlapping_a_pruned_local_day_is_counted_like_the_warehouse(
    spark: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    timezone: str,
    pruned_local: date,
    stop_at: str | None,
    late_in_pruned: bool,
) -> None:
    spool, output, wh = tmp_path / "spool", tmp_path / "out", tmp_path / "w.duckdb"
    for offset in range(4):
        events = _events(offset, day(offset), 240)
        for part in range(3):
            write_segment(spool, day(offset), to_table(events[part::3]))
    warehouse = Warehouse(wh, timezone=timezone, raw_retention_days=365, clock=lambda: CLOCK)
    warehouse.run(spool)
    spark_module.spark_rollup(str(spool), str(output), timezone=timezone)

    # A lifecycle rule expires spool day 0; a run marks it pruned.
    shutil.rmtree(spool / f"day={day(0)}")
    spark_module.spark_rollup(str(spool), str(output))

    # A late host's segment lands in spool day 1, which is whole: some of its events fall in
    # the local day that also overlaps pruned spool day 0.
    late = _events(99, day(1), 150)
    assert any(e.ts.astimezone(ZoneInfo(timezone)).date() == pruned_local for e in late)
    write_segment(spool, day(1), to_table(late))
    if late_in_pruned:
        write_segment(spool, day(0), to_table(_events(98, day(0), 90)))
    warehouse.run(spool)
    stop_once_at(stop_at, spool, output, monkeypatch)
    with caplog.at_level("INFO", logger="analytics"):
        spark_module.spark_rollup(str(spool), str(output))

    loaded = tmp_path / "loaded.duckdb"
    spark_module.load_spark_rollups(output, loaded)
    assert _pageviews(loaded, pruned_local) == _pageviews(wh, pruned_local)
    for table in ROLLUP_TABLES:  # every day's pageviews; visitors may count someone twice
        drop = ("visitors",)
        assert sorted_rows(loaded, table, drop) == sorted_rows(wh, table, drop), table

    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    if stop_at is None:
        manifest = json.loads((output / "_cookiewall.json").read_text())
        assert manifest["overlap_segments"] == 1
        assert manifest["late_segments"] == int(late_in_pruned)
    assert stop_at is not None or any(
        "which overlaps a pruned spool day" in r.getMessage() for r in caplog.records
    ), [r.getMessage() for r in caplog.records]

    # The next run adds nothing again.
    spark_module.spark_rollup(str(spool), str(output))
    again = tmp_path / "again.duckdb"
    spark_module.load_spark_rollups(output, again)
    assert sorted_rows(again, "daily_totals") == sorted_rows(loaded, "daily_totals")
