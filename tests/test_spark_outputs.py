"""Where a Spark rollup reads and what it makes of an existing output: `file:` URIs for spool and
output, a manifest another writer changed or whose rename was interrupted, outputs from before
incremental runs or from an older version, an output it may not read, and a spool day that lost
segments and gained more. Needs pyspark and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from analytics.event import Event, to_table
from analytics.spark import load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import numbered_events, python_knows, sorted_rows, write_events

pytestmark = pytest.mark.usefixtures("aws_env")  # dummy credentials, none of the machine's

DAY = date(2026, 11, 20)


SPARK_FIRST_DAY = date(2026, 10, 20)
SPARK_DAYS = 5


def _spark_events(seed: int, day: date, count: int = 40) -> list[Event]:
    """Events of one UTC day, many near midnight (a site time zone moves them to a
    neighbouring local day)."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        hour = rng.choice((0, 1, 22, 23)) if rng.random() < 0.5 else rng.randrange(24)
        ts = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
            hours=hour, seconds=rng.randrange(3600)
        )
        event = numbered_events(1, day)[0]
        events.append(
            event._replace(
                ts=ts, path=f"/p{rng.randrange(4)}", visitor_id=rng.randrange(25) + i % 2
            )
        )
    return events


def _spark_spool(root: Path) -> Path:
    for offset in range(SPARK_DAYS):
        day = SPARK_FIRST_DAY + timedelta(days=offset)
        for part in range(2):
            write_segment(root, day, to_table(_spark_events(offset * 10 + part, day)))
    return root


def _table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.tables import ROLLUP_TABLES

    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ROLLUP_TABLES}


def _warehouse_of(spool: Path, db: Path, timezone: str) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.warehouse import Warehouse

    Warehouse(db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    return _table_rows(db)


def _spark_rows(output: Path, db: Path) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.spark import load_spark_rollups

    load_spark_rollups(output, db)
    return _table_rows(db)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_rollup_takes_file_uris_for_spool_and_output_and_loads_them(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the rollup ran, then loading '--output file:///…' into --db failed with
    # "Spark output 'file:/…' does not exist or is not a folder" (exit 2).
    spool = _spark_spool(tmp_path / "spool")
    code = main(
        [
            "rollup",
            "--engine",
            "spark",
            "--spool",
            spool.as_uri(),
            "--output",
            (tmp_path / "out").as_uri(),
            "--db",
            str(tmp_path / "spark.duckdb"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "UTC")
    assert _table_rows(tmp_path / "spark.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize(
    "prefix", ["file:", "file://localhost", "file://LOCALHOST", "FILE:", "FILE://localhost"]
)
def test_spark_rollup_takes_hadoop_style_file_uris(spark: Any, tmp_path: Path, prefix: str) -> None:
    # 'file:/abs/path' is how Hadoop and Spark print a local path. Before: "spool folder
    # 'file:/…' does not exist or is not a folder". 'file://localhost/abs/path' names the same
    # folder, which Hadoop refused ("Wrong FS: file://localhost/…, expected: file:///"). The
    # scheme and the host in any case (RFC 3986): Hadoop knows no file system "FILE" (r305 F5).
    from analytics.spark import spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    counts = spark_rollup(f"{prefix}{spool}", f"{prefix}{tmp_path / 'out'}")
    assert counts["daily_totals"] > 0
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "UTC")
    assert _spark_rows(tmp_path / "out", tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_a_run_interrupted_while_renaming_the_manifest_keeps_the_time_zone(
    spark: Any, tmp_path: Path
) -> None:
    # The manifest is written beside, the old one deleted, then the new one renamed into
    # place: a job killed between the two leaves only the complete temporary file. Before:
    # the next run found no manifest, took UTC, and rewrote the new days' partitions in UTC
    # beside the Berlin ones.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    (output / MANIFEST).rename(output / f".{MANIFEST}.tmp")
    new_day = SPARK_FIRST_DAY + timedelta(days=SPARK_DAYS)
    write_segment(spool, new_day, to_table(_spark_events(99, new_day)))

    spark_rollup(str(spool), str(output))

    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["timezone"] == "Europe/Berlin"
    assert manifest["recomputed_days"] == 2  # the new UTC day reaches two Berlin days
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "Europe/Berlin")
    assert _spark_rows(output, tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_an_output_from_before_incremental_runs_keeps_the_rollups_of_pruned_days(
    spark: Any, tmp_path: Path
) -> None:
    # An output written by the version before incremental runs has a manifest without
    # `spool_days`: the first run after the upgrade is a full one. With a site time zone,
    # the local day next to a spool day pruned since was recomputed from the one spool day
    # left of the two it overlaps, and its rollups silently lost those hours.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "Europe/Berlin")
    old = json.loads((output / MANIFEST).read_text())
    (output / MANIFEST).write_text(
        json.dumps({k: old[k] for k in ("timezone", "event_schema_version", "tables")})
    )
    shutil.rmtree(spool / f"day={SPARK_FIRST_DAY}")  # a lifecycle rule, since

    spark_rollup(str(spool), str(output))

    assert _spark_rows(output, tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_a_manifest_changed_by_another_writer_is_read_not_a_java_traceback(
    spark: Any, tmp_path: Path
) -> None:
    # Hadoop's local FileSystem wrote a hidden ._cookiewall.json.crc; once anything else
    # rewrote the manifest (the older version's writer, an edit by hand), every later run died
    # with a Py4JJavaError traceback (ChecksumException), not even a one-line error.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    manifest = json.loads((output / MANIFEST).read_text())
    (output / MANIFEST).write_text(json.dumps(manifest, indent=4))

    spark_rollup(str(spool), str(output))
    assert json.loads((output / MANIFEST).read_text())["timezone"] == "Europe/Berlin"


@pytest.mark.spark
@pytest.mark.slow
def test_an_output_the_job_may_not_read_is_a_one_line_error(spark: Any, tmp_path: Path) -> None:
    from analytics.spark import MANIFEST, SparkRollupError, spark_rollup

    output = tmp_path / "out"
    (output / MANIFEST).mkdir(parents=True)  # a folder where the manifest should be
    with pytest.raises(SparkRollupError) as info:
        spark_rollup(str(_spark_spool(tmp_path / "spool")), str(output))
    assert "\n" not in str(info.value)


@pytest.mark.spark
@pytest.mark.slow
def test_a_spool_day_that_lost_segments_and_gained_more_keeps_the_lost_ones(
    spark: Any, tmp_path: Path
) -> None:
    # Before: the manifest kept a count and a digest per spool day, so 'lost one, gained two'
    # looked grown, and the day was recomputed from what was left: the lost segment's
    # pageviews vanished. Now each day's names are kept beside the manifest: the day is
    # pruned from then on and the two new segments are added to its rollups, as late
    # segments are (pageviews exact, visitors possibly counting someone twice).
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output))
    day = SPARK_FIRST_DAY + timedelta(days=2)
    for seed in (70, 71):  # a host's backlog arrives late...
        write_segment(spool, day, to_table(_spark_events(seed, day)))
    expected_db = tmp_path / "w.duckdb"
    _warehouse_of(spool, expected_db, "UTC")
    oldest = sorted((spool / f"day={day}").glob("*.parquet"))[0]
    oldest.unlink()  # ...while a lifecycle rule expires the day's oldest segment

    spark_rollup(str(spool), str(output))

    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["recomputed_days"] == 0
    assert manifest["late_segments"] == 2
    assert manifest["spool_days"][day.isoformat()]["pruned"] is True
    actual_db = tmp_path / "s.duckdb"
    _spark_rows(output, actual_db)
    from analytics.tables import ROLLUP_TABLES

    for table in ROLLUP_TABLES:
        assert _rows_but_visitors(actual_db, table) == _rows_but_visitors(expected_db, table)
        assert _visitors(actual_db, table) >= _visitors(expected_db, table), table
    day_totals = _rows_but_visitors(actual_db, "daily_totals")
    assert (
        [row for row in day_totals if row[0] == day]
        == [row for row in _rows_but_visitors(expected_db, "daily_totals") if row[0] == day]
        != []
    )


def _rows_but_visitors(db: Path, table: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * EXCLUDE (visitors) FROM {table} ORDER BY ALL").fetchall()


def _visitors(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(f"SELECT COALESCE(SUM(visitors), 0) FROM {table}").fetchall()[0][0])


BERLIN_DAYS = [date(2026, 10, 20), date(2026, 10, 21)]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/New_York"])
def test_spark_upgrade_rebuilds_local_days_next_to_spool_days_that_never_existed(
    spark: Any, tmp_path: Path, timezone: str
) -> None:
    """A local day overlapping a UTC day that never had a segment is whole (nothing of it was
    ever counted, nothing was pruned): the upgrade computes it from the spool, as the
    warehouse does, instead of summing its visitors over media."""
    if not python_knows(timezone):
        pytest.skip(f"no time-zone data for {timezone}")
    first, last = BERLIN_DAYS
    # One visitor through two media in the middle of each UTC day: the first and the last
    # local day of the data both reach a UTC day the spool never had.
    events = [
        *(at(GMAIL, day, 11) for day in BERLIN_DAYS),
        *(at(SEARCH, day, 12) for day in BERLIN_DAYS),
        at(SEARCH, first, 2, visitor=2),  # Berlin: first's local day; New York: the day before
        at(GMAIL, last, 23, visitor=3),  # Berlin: the local day after last; New York: last
    ]
    spool = tmp_path / "spool"
    write_events(spool, events)
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone=timezone)
    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(
        spool
    )
    expected = sorted_rows(warehouse_db, "daily_referrer_domains")
    assert {row[4] for row in expected if row[2] == "google.com"} == {1, 2}

    shutil.rmtree(output / "daily_referrer_domains")  # as the version before wrote it
    spark_rollup(str(spool), str(output))  # nothing new in the spool: only the upgrade
    upgraded_db = tmp_path / "upgraded.duckdb"
    load_spark_rollups(output, upgraded_db)
    assert sorted_rows(upgraded_db, "daily_referrer_domains") == expected
