"""A Spark output made before daily_devices and daily_consent (warehouse schema 2) gets them as
the warehouse's migration gives them: every day whose spool segments are all still there is
computed from them, and a day pruned before has no rows, even when a late segment lands in it
(its events alone would pass for the whole day's mix); its daily_totals still take them."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import to_table
from analytics.spark import load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.tables import MIX_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FIRST = date(2026, 9, 7)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]
PRUNED = DAYS[0]
CLOCK = datetime(2026, 9, 20, tzinfo=UTC)


def test_an_output_made_before_the_mix_gets_it_for_whole_days_and_none_for_pruned_ones(
    spark: Any, tmp_path: Path
) -> None:
    spool, output = tmp_path / "spool", tmp_path / "out"
    earlier = events_for_days(random.Random(7), DAYS[:3], 60)
    write_events(spool, earlier, per_segment=20)
    spark_rollup(str(spool), str(output))
    # What the earlier release wrote: no mix tables. Then a lifecycle rule took a day.
    for table in MIX_TABLES:
        shutil.rmtree(output / table)
    shutil.rmtree(spool / f"day={PRUNED.isoformat()}")
    late = events_for_days(random.Random(8), [PRUNED], 30)
    write_segment(spool, PRUNED, to_table(late))
    later = events_for_days(random.Random(9), DAYS[3:], 60)  # a new day, rolled up as usual
    write_events(spool, later, per_segment=20)

    spark_rollup(str(spool), str(output))
    upgraded = tmp_path / "upgraded.duckdb"
    load_spark_rollups(output, upgraded)

    # The reference: the warehouse over every event but the late ones, never pruned.
    reference_spool = tmp_path / "reference"
    write_events(reference_spool, [*earlier, *later], per_segment=20)
    reference = tmp_path / "reference.duckdb"
    Warehouse(reference, clock=lambda: CLOCK).run(reference_spool)
    for table in MIX_TABLES:
        expected = [row for row in sorted_rows(reference, table) if row[0] != PRUNED]
        assert {row[0] for row in expected} == set(DAYS[1:])
        assert sorted_rows(upgraded, table) == expected, table
    # The pruned day's totals took the late events in (they are not lost, only not mixed).
    late_pageviews = sum(not event.is_bot for event in late)
    before = sum(row[2] for row in sorted_rows(reference, "daily_totals") if row[0] == PRUNED)
    after = sum(row[2] for row in sorted_rows(upgraded, "daily_totals") if row[0] == PRUNED)
    assert after == before + late_pageviews > before

    # A rerun changes nothing: the backfill does not run again, the late events stay added once.
    spark_rollup(str(spool), str(output))
    rerun = tmp_path / "rerun.duckdb"
    load_spark_rollups(output, rerun)
    for table in (*MIX_TABLES, "daily_totals"):
        assert sorted_rows(rerun, table) == sorted_rows(upgraded, table), table
