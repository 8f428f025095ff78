"""Segments whose events are not all of their folder's day: Spark counts them by `ts`, as
the warehouse does.

cookiewall's recorder never writes such segments: it splits every batch by the UTC day of
each event's `ts` (a batch spanning midnight becomes two segments). Another writer can: one
that files a segment by the day it opened or sealed it on puts a segment spanning midnight
under one of its two days, and one whose filing clock is not the clock of its events' `ts`
can put a segment under another day altogether. The warehouse counts every event by its own
`ts`; the Spark rollup read a local day only from the day folders that day overlaps, and
recomputed only the local days of the folders that changed, so it dropped those events
(review 211 F5). The spool is rolled up by both engines, in one run or two (the odd segments
arriving first or later), in UTC and in a site time zone, and the tables must be identical.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import analytics.spark as spark_module
from analytics.event import Event, to_table
from analytics.spark import SpoolReach, load_spark_rollups, plan_days, spark_rollup
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.spark_support import SPOOL, day, fingerprints, rerun
from tests.warehouse_support import events_for_days, make_event, sorted_rows

D = date(2026, 10, 20)  # Berlin is UTC+2 then


# -- the plan (no Spark) ---------------------------------------------------------------------


def test_a_changed_day_recomputes_the_days_its_events_fall_on_read_from_every_folder() -> None:
    first = plan_days(fingerprints(SPOOL), {}, "UTC", names=SPOOL)
    grown = {**SPOOL, day(3): (*SPOOL[day(3)], "3-late.parquet")}
    # day 3's new segment holds events of day 1 (and of a day with no folder)
    reach = SpoolReach({day(3): frozenset({day(1), day(9)})})
    plan = plan_days(
        fingerprints(grown), rerun(first.state), "UTC", names=grown, known=SPOOL, reach=reach
    )
    assert plan.local_days == {day(1), day(3), day(9)}
    assert plan.read_days == {day(1), day(3)}


def test_a_local_day_an_odd_segment_of_a_pruned_day_reached_is_never_recomputed() -> None:
    reach = SpoolReach({day(1): frozenset({day(3)})})
    first = plan_days(fingerprints(SPOOL), {}, "UTC", names=SPOOL, reach=reach)
    # day 1 pruned (its events of day 3 gone with it), day 3 grows
    left = {d: n for d, n in SPOOL.items() if d != day(1)}
    left[day(3)] = (*SPOOL[day(3)], "3-late.parquet")
    plan = plan_days(
        fingerprints(left), rerun(first.state), "UTC", names=left, known=SPOOL, reach=reach
    )
    assert day(3) not in plan.local_days
    assert plan.overlap_segments == {day(3): ("3-late.parquet",)}
    assert plan.overlap_days == {day(3)}


@pytest.mark.parametrize(
    ("timezone", "recounted", "read"),
    [
        ("UTC", {day(1)}, {day(1), day(3)}),
        # UTC day 1's last two hours are local day 2's first
        ("Europe/Berlin", {day(1), day(2)}, {day(0), day(1), day(2), day(3)}),
    ],
)
def test_days_an_older_version_undercounted_are_recomputed_once(
    timezone: str, recounted: set[date], read: set[date]
) -> None:
    # Counted before the reach was recorded: local day 1 read from its own folder only.
    state = rerun(plan_days(fingerprints(SPOOL), {}, timezone, names=SPOOL).state)
    # Unchanged since, but day 3's segments hold events of day 1 (the scan finds it).
    reach = SpoolReach({day(3): frozenset({day(1)})})
    upgrade = plan_days(
        fingerprints(SPOOL), state, timezone, names=SPOOL, reach=reach, reach_unrecorded=True
    )
    assert upgrade.local_days == upgrade.recounted == recounted
    assert upgrade.read_days == read
    assert upgrade.undercounted == ()
    # The next run has the reach recorded: incremental again, nothing recomputed.
    later = plan_days(fingerprints(SPOOL), rerun(upgrade.state), timezone, names=SPOOL, reach=reach)
    assert later.local_days == frozenset()


def test_a_day_an_older_version_undercounted_is_reported_when_a_day_it_needs_is_pruned() -> None:
    state = rerun(plan_days(fingerprints(SPOOL), {}, "UTC", names=SPOOL).state)
    left = {d: n for d, n in SPOOL.items() if d != day(1)}  # day 1 pruned
    reach = SpoolReach({day(3): frozenset({day(1)})})
    upgrade = plan_days(
        fingerprints(left), state, "UTC", names=left, reach=reach, reach_unrecorded=True
    )
    assert upgrade.undercounted == (day(1),)
    assert upgrade.local_days == upgrade.recounted == frozenset()


# -- both engines --------------------------------------------------------------------------


def _at(day: date, hour: int, count: int, rng: random.Random) -> list[Event]:
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return [make_event(rng, start + timedelta(seconds=rng.randrange(3600))) for _ in range(count)]


def _odd_segments(rng: random.Random) -> list[tuple[date, list[Event]]]:
    """(the day folder it is filed under, its events)."""
    d = [D + timedelta(days=i) for i in range(6)]
    return [
        # another writer's, filed by the day it opened it on: the last hour of one day and
        # the first of the next
        (d[1], _at(d[1], 23, 15, rng) + _at(d[2], 0, 15, rng)),
        # ... into a day no other segment has (yet)
        (d[2], _at(d[2], 23, 10, rng) + _at(d[3], 0, 10, rng)),
        # another writer's clock a day or two off
        (d[2], _at(d[0], 12, 12, rng)),
        (d[0], _at(d[5], 9, 8, rng)),
    ]


def _filed_by_day(events: list[Event]) -> list[tuple[date, list[Event]]]:
    """As the recorder files them: by UTC day, 20 events to a segment."""
    by_day: dict[date, list[Event]] = {}
    for event in events:
        by_day.setdefault(event.ts.date(), []).append(event)
    return [
        (day, day_events[start : start + 20])
        for day, day_events in sorted(by_day.items())
        for start in range(0, len(day_events), 20)
    ]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("odd_ones", ["in one run", "arriving later", "before the rest"])
def test_spark_counts_events_by_their_time_not_their_folder(
    spark: Any, tmp_path: Path, timezone: str, odd_ones: str
) -> None:
    rng = random.Random(218)
    spool, output, loaded_db = tmp_path / "spool", tmp_path / "spark-out", tmp_path / "loaded.db"
    warehouse = Warehouse(
        tmp_path / "warehouse.duckdb",
        timezone=timezone,
        clock=lambda: datetime(2026, 11, 1, tzinfo=UTC),
    )
    normal = _filed_by_day(events_for_days(rng, [D + timedelta(days=i) for i in range(3)], 30))
    odd = _odd_segments(rng)
    # Days the odd ones reach growing later: recomputed, the odd ones still counted.
    more = _filed_by_day(
        _at(D + timedelta(days=2), 6, 10, rng) + _at(D + timedelta(days=3), 6, 10, rng)
    )
    runs = {
        "in one run": [normal + odd + more],
        "arriving later": [normal, odd + more],
        "before the rest": [normal + odd, more],
    }[odd_ones]
    for segments in runs:
        for folder, events in segments:
            write_segment(spool, folder, to_table(events))
        warehouse.run(spool)
        spark_rollup(str(spool), str(output), timezone=timezone)

    loaded = load_spark_rollups(output, loaded_db)
    for table in ROLLUP_TABLES:
        expected = sorted_rows(warehouse.path, table)
        assert sorted_rows(loaded_db, table) == expected, table
        assert loaded[table] == len(expected)
    # ... and every event is in the warehouse's (pageviews and bot hits).
    totals = sorted_rows(warehouse.path, "daily_totals")
    written = sum(len(events) for run in runs for _, events in run)
    assert sum(row[2] + row[4] for row in totals) == written


@dataclass(frozen=True)
class OlderOutput:
    """A spool with a segment filed under the wrong day, the warehouse's rollups of it, and
    a Spark output of it as the version before the reach counted it (day 0 lacks the
    segment's events) with its tables loaded into `loaded`."""

    spool: Path
    warehouse: Path
    output: Path
    loaded: Path


@pytest.fixture(scope="module")
def older_output(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> OlderOutput:
    rng = random.Random(236)
    base = tmp_path_factory.mktemp("older-output")
    spool, output = base / "spool", base / "spark-out"
    for folder, events in _filed_by_day(events_for_days(rng, [D, D + timedelta(days=1)], 30)):
        write_segment(spool, folder, to_table(events))
    spark_rollup(str(spool), str(output))
    # Then a segment filed under day 1 holding events of day 0 (another writer's clock a day
    # off). The version before took it for day 1's alone: its next run recomputed local day 1
    # (no row changes) and recorded day 1's segments as counted; no `reach` in its manifest.
    late = D + timedelta(days=1)
    write_segment(spool, late, to_table(_at(D, 15, 6, rng)))
    manifest = json.loads((output / "_cookiewall.json").read_text())
    names = sorted(p.name for p in (spool / f"day={late.isoformat()}").glob("*.parquet"))
    count, digest = spark_module._fingerprint(names)
    manifest["spool_days"][late.isoformat()] = {"count": count, "digest": digest}
    del manifest["reach"]
    (output / "_cookiewall.json").write_text(json.dumps(manifest))
    warehouse = Warehouse(
        base / "warehouse.duckdb", clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)
    )
    warehouse.run(spool)
    loaded = base / "older.db"
    load_spark_rollups(output, loaded)
    assert sorted_rows(loaded, "daily_totals") != sorted_rows(warehouse.path, "daily_totals")
    return OlderOutput(spool, warehouse.path, output, loaded)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("day_0", ["in the spool", "pruned"])
def test_the_first_run_after_the_upgrade_recounts_or_reports_what_the_older_one_missed(
    older_output: OlderOutput, tmp_path: Path, caplog: pytest.LogCaptureFixture, day_0: str
) -> None:
    spool, output, loaded = tmp_path / "spool", tmp_path / "spark-out", tmp_path / "loaded.db"
    shutil.copytree(older_output.spool, spool)
    shutil.copytree(older_output.output, output)
    if day_0 == "pruned":
        shutil.rmtree(spool / f"day={D.isoformat()}")
    with caplog.at_level("INFO", logger="analytics"):
        spark_rollup(str(spool), str(output))
    load_spark_rollups(output, loaded)
    manifest = json.loads((output / "_cookiewall.json").read_text())
    assert manifest["reach"] == {(D + timedelta(days=1)).isoformat(): [D.isoformat()]}
    said = [
        r.getMessage() for r in caplog.records if "another day's spool folder" in r.getMessage()
    ]
    if day_0 == "in the spool":
        # Day 0 alone recomputed, from both folders: the warehouse's figures.
        assert manifest["recomputed_days"] == 1
        for table in ROLLUP_TABLES:
            assert sorted_rows(loaded, table) == sorted_rows(older_output.warehouse, table), table
        assert said == [
            f"spark rollup: recomputing local days {D.isoformat()}: counted before this"
            " version without the events filed under another day's spool folder"
        ]
    else:
        # Day 0's own events are gone: it stays as it was, and the operator is told.
        assert manifest["recomputed_days"] == 0
        for table in ROLLUP_TABLES:
            assert sorted_rows(loaded, table) == sorted_rows(older_output.loaded, table), table
        assert said == [
            f"spark rollup: local days {D.isoformat()} lack the events filed under another"
            " day's spool folder (counted before this version) and stay so: a spool day they"
            " need was pruned; a rollup into a new output folder counts what the spool still"
            " holds"
        ]
