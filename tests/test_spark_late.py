"""Late segments in a pruned spool day: Spark adds them to the rollups, as the warehouse does.

The plan (`plan_days` with segment names) is pure logic and tested fast. One Spark module
session then holds the whole path to the warehouse: a spool rolled up, two days pruned, a late
segment landing in one of them, and the tables compared (pageviews exact; visitors possibly
counting someone twice, as in the warehouse); a rerun adds nothing, and a run stopped between
recording the late sums and replacing the partitions is finished exactly by the next one.
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import analytics.spark as spark_module
from analytics.event import Event, to_table
from analytics.spark import plan_days
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.spark_support import PATHS, SITES, SPOOL, D, day, fingerprints, rerun, stop_once_at
from tests.warehouse_support import sorted_rows


def plan(
    names: dict[date, tuple[str, ...]], previous: dict[date, dict[str, Any]], tz: str = "UTC"
) -> spark_module.DayPlan:
    return plan_days(fingerprints(names), previous, tz, names=names)


# -- the plan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "late"),
    [
        ((), ("new-a.parquet",)),  # a lifecycle rule took the whole day; one late segment
        ((), ("new-a.parquet", "new-b.parquet")),  # ... two
        (("1-2.parquet",), ("new-a.parquet",)),  # it took some segments so far
        (("1-0.parquet", "1-1.parquet"), ("1-9.parquet",)),  # a late name sorting among them
    ],
)
def test_a_late_segment_in_a_pruned_day_is_added_once_by_name(
    left: tuple[str, ...], late: tuple[str, ...]
) -> None:
    pruned = day(1)
    first = plan(SPOOL, {})
    spool = {d: n for d, n in SPOOL.items() if d != pruned}
    if left:
        spool[pruned] = left
    second = plan(spool, rerun(first.state))
    assert second.state[pruned.isoformat()] == {
        "pruned": True,
        "count": len(left),
        "counted": sorted(left),
    }
    assert second.late == ()
    assert second.late_segments == {}

    spool[pruned] = (*left, *late)
    third = plan(spool, rerun(second.state))
    assert third.late == (pruned,)
    assert third.late_segments == {pruned: tuple(sorted(late))}
    assert third.local_days == set()  # added to, never recomputed from what is left
    assert third.state[pruned.isoformat()]["counted"] == sorted((*left, *late))

    fourth = plan(spool, rerun(third.state))  # the next run: counted already
    assert fourth.late == ()
    assert fourth.late_segments == {}
    assert fourth.state == third.state

    # The late segment expires too, and another one comes: only that one is new.
    spool[pruned] = ("z-last.parquet",)
    fifth = plan(spool, rerun(fourth.state))
    assert fifth.late_segments == {pruned: ("z-last.parquet",)}


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_late_segments_do_not_make_any_local_day_recomputed(tz: str) -> None:
    # The neighbours a time zone shares with the pruned day stay as they are too: the late
    # rows are added to them, not recomputed from part of their events.
    first = plan(SPOOL, {}, tz)
    spool = {d: n for d, n in SPOOL.items() if d != day(1)}
    second = plan(spool, rerun(first.state), tz)
    spool[day(1)] = ("late.parquet",)
    third = plan(spool, rerun(second.state), tz)
    assert third.local_days == set()
    assert third.read_days == set()
    assert third.late_segments == {day(1): ("late.parquet",)}


@pytest.mark.parametrize(
    ("recorded", "now", "late", "counted"),
    [
        # A manifest of the version before names: the day's count only. What is there now
        # is taken as counted (as that version did); a rise is reported, not added.
        (0, (), (), []),
        (2, ("a", "b"), (), ["a", "b"]),
        (2, ("a",), (), ["a"]),
        (1, ("a", "b"), (D,), ["a", "b"]),
    ],
)
def test_an_older_record_of_a_pruned_day_is_upgraded_without_adding_anything(
    recorded: int, now: tuple[str, ...], late: tuple[date, ...], counted: list[str]
) -> None:
    previous = {D: {"pruned": True, "count": recorded}}
    upgraded = plan({D: now} if now else {day(5): ("x",)}, previous)
    assert upgraded.late == late
    assert upgraded.late_segments == {}
    if now:
        assert upgraded.state[D.isoformat()] == {
            "pruned": True,
            "count": len(now),
            "counted": counted,
        }
        # From now on names decide: a new one is added.
        after = plan({D: (*now, "c")}, rerun(upgraded.state))
        assert after.late_segments == {D: ("c",)}


def test_without_names_the_plan_keeps_counting_only() -> None:
    # Callers that pass no names (and their manifests) see the behaviour before names.
    previous = {D: {"pruned": True, "count": 1}}
    done = plan_days({D: (2, "digest")}, previous, "UTC")
    assert done.late == (D,)
    assert done.late_segments == {}
    assert done.state[D.isoformat()] == {"pruned": True, "count": 2}


# -- on Spark, against the warehouse --------------------------------------------------------

REFERRERS = (
    (None, None, "direct", None),
    ("google.com", "google.com", "search", "Google"),
    ("news.ycombinator.com", "ycombinator.com", "social", "Hacker News"),
)
CAMPAIGNS = ((None, None, None), ("newsletter", "email", "launch"))
SPOOL_DAYS = 4
CLOCK = datetime.combine(day(SPOOL_DAYS - 1), datetime.min.time(), UTC) + timedelta(hours=12)
RAW_DAYS = SPOOL_DAYS - 3  # the warehouse keeps local days from day(2): 0 and 1 are pruned


def _events(seed: int, utc_day: date, count: int) -> list[Event]:
    rng = random.Random(seed)
    start = datetime.combine(utc_day, datetime.min.time(), UTC)
    events = []
    for _ in range(count):
        # Many near midnight UTC: in Berlin the last hour is the next local day.
        hour = rng.choice((0, 22, 23)) if rng.random() < 0.4 else rng.randrange(24)
        host, domain, medium, source = rng.choice(REFERRERS)
        utm_source, utm_medium, utm_campaign = rng.choice(CAMPAIGNS)
        is_bot = rng.random() < 0.1
        events.append(
            Event(
                ts=start + timedelta(hours=hour, seconds=rng.randrange(3600)),
                site=rng.choice(SITES),
                path=rng.choice(PATHS),
                method="GET",
                status=200,
                referrer_host=host,
                referrer_domain=domain,
                referrer_medium=medium,
                referrer_source=source,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=utm_campaign,
                # a small pool: late visitors meet earlier ones, so visitor sums can differ
                visitor_id=None if rng.random() < 0.15 else rng.randrange(40),
                device="bot" if is_bot else "desktop",
                is_bot=is_bot,
                consent="all",
            )
        )
    return sorted(events)


def _partition_files(output: Path) -> dict[str, set[str]]:
    return {
        f"{p.parent.name}/{p.name}": {f.name for f in p.glob("*.parquet")}
        for p in output.glob("*/day=*")
    }


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    ("timezone", "stop_at"),
    [
        ("UTC", None),
        # Stopped after the late sums and the new state are recorded, before the live
        # partitions change; and after they changed, before the final manifest.
        ("Europe/Berlin", "_apply_late_staging"),
        ("UTC", "_rows_in"),
    ],
)
def test_a_late_segment_in_a_pruned_day_matches_the_warehouse_and_is_added_once(
    spark: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    timezone: str,
    stop_at: str | None,
) -> None:
    spool, output = tmp_path / "spool", tmp_path / "out"
    for offset in range(SPOOL_DAYS):
        events = _events(offset, day(offset), 240)
        for part in range(3):
            write_segment(spool, day(offset), to_table(events[part::3]))
    warehouse = Warehouse(
        tmp_path / "w.duckdb", timezone=timezone, raw_retention_days=RAW_DAYS, clock=lambda: CLOCK
    )
    warehouse.run(spool)  # raw events of local days 0 and 1 pruned: rollups stay
    spark_module.spark_rollup(str(spool), str(output), timezone=timezone)

    # A lifecycle rule expires the spool's two oldest days; a run marks them pruned.
    for offset in (0, 1):
        shutil.rmtree(spool / f"day={day(offset)}")
    spark_module.spark_rollup(str(spool), str(output))

    # A late host's backlog lands in pruned day 1 (its folder comes back with one segment).
    late = _events(99, day(1), 150)
    write_segment(spool, day(1), to_table(late))
    warehouse.run(spool)
    before = _partition_files(output)
    stop_once_at(stop_at, spool, output, monkeypatch)
    with caplog.at_level("INFO", logger="analytics"):
        spark_module.spark_rollup(str(spool), str(output))
    manifest = json.loads((output / "_cookiewall.json").read_text())
    assert "pending_late" not in manifest
    assert not (output / "_late_rollups").exists()
    assert manifest["recomputed_days"] == 0
    counted = manifest["spool_days"][day(1).isoformat()]["counted"]
    assert len(counted) == 1
    assert (spool / f"day={day(1)}" / counted[0]).exists()
    if stop_at is None:
        assert manifest["late_segments"] == 1
        assert [r.getMessage() for r in caplog.records if "late segment" in r.getMessage()] == [
            f"spark rollup: adding 1 late segment of spool day {day(1)}, which was pruned,"
            " to its rollups (visitors may count someone twice)"
        ]

    # Only the local days the late events fall in were rewritten.
    after = _partition_files(output)
    touched = {day(1), day(2)} if timezone == "Europe/Berlin" else {day(1)}
    for partition, files in after.items():
        local = date.fromisoformat(partition.split("day=")[1])
        assert (files != before.get(partition)) == (local in touched), partition
    # ... in the files' own column types, like every other partition.
    for table in ROLLUP_TABLES:
        schemas = {
            tuple((c.name, str(c.type), c.nullable) for c in pq.read_schema(f))
            for f in (output / table).glob("day=*/*.parquet")
        }
        assert len(schemas) == 1, table

    loaded = tmp_path / "loaded.duckdb"
    spark_module.load_spark_rollups(output, loaded)
    wh = tmp_path / "w.duckdb"
    totals = sorted_rows(loaded, "daily_totals")
    assert sum(r[2] for r in totals) == sum(1 for e in _all_events() + late if not e.is_bot)
    for table in ROLLUP_TABLES:
        if timezone == "UTC":  # the late rows are added to pruned days in both engines
            assert sorted_rows(loaded, table) == sorted_rows(wh, table), table
        else:
            # The warehouse recomputes local day 2 from its raw events, Spark adds to it
            # (its first hour is in pruned spool day 1): pageviews agree, visitors may not.
            drop = ("visitors",)
            assert sorted_rows(loaded, table, drop) == sorted_rows(wh, table, drop), table

    # A second run adds nothing and rewrites nothing.
    spark_module.spark_rollup(str(spool), str(output))
    assert _partition_files(output) == after
    again = tmp_path / "again.duckdb"
    spark_module.load_spark_rollups(output, again)
    assert sorted_rows(again, "daily_totals") == totals


def _all_events() -> list[Event]:
    return [e for offset in range(SPOOL_DAYS) for e in _events(offset, day(offset), 240)]
