"""The Spark rollup, like the DuckDB ingest, leaves a local spool's segments of a newer event
schema unread (Spark would read them with this schema's columns), says so in one line, and
counts them once a newer cookiewall reads that schema. The listing tests need no Spark; the
rollup tests need pyspark and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spark import _fingerprint, list_spool, load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, sorted_rows

DAY = date(2026, 10, 1)
OTHER_DAY = date(2026, 10, 2)
NOW = datetime(2026, 10, 5, tzinfo=UTC)


def _segment(spool: Path, day: date, seed: int, version: bytes, *, rename: bool = False) -> Path:
    """A real segment of 10 events, rewritten with `cookiewall.schema_version` = `version`
    (and `path` called `page`, as a newer schema might)."""
    path = write_segment(
        spool, day, to_table(events_for_days(random.Random(seed), [day], per_day=10))
    )
    table = pq.read_table(path)
    if rename:
        table = table.rename_columns(["page" if n == "path" else n for n in table.column_names])
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: version}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("version", [b"2", b"31"])
def test_the_listing_leaves_out_newer_segments(tmp_path: Path, version: bytes) -> None:
    spool = tmp_path / "spool"
    kept = [_segment(spool, DAY, 1, b"1"), _segment(spool, OTHER_DAY, 2, b"1")]
    newer = _segment(spool, DAY, 3, version, rename=True)
    listing = list_spool(None, str(spool))
    assert listing.segments == {DAY: (kept[0].name,), OTHER_DAY: (kept[1].name,)}
    assert listing.newer == {_name(newer): int(version)}
    # Its day folder holds a file Spark must not read: read file by file, not as a folder.
    assert listing.clean == frozenset({OTHER_DAY})


def test_a_day_counted_as_it_is_reads_no_footer(tmp_path: Path) -> None:
    # A day whose names are those the last run counted costs no footer read: a newer segment
    # counted by an older Spark rollup (before this check) stays counted, not taken back.
    spool = tmp_path / "spool"
    old = _segment(spool, DAY, 1, b"1")
    newer = _segment(spool, DAY, 2, b"2")
    count, digest = _fingerprint([old.name, newer.name])
    listing = list_spool(None, str(spool), counted={DAY: {"count": count, "digest": digest}})
    assert listing.segments == {DAY: tuple(sorted([old.name, newer.name]))}
    assert listing.newer == {}
    other = list_spool(None, str(spool), counted={DAY: {"count": 1, "digest": "stale"}})
    assert other.newer == {_name(newer): 2}


@pytest.mark.spark
@pytest.mark.slow
def test_spark_and_duckdb_agree_and_both_count_it_after_the_upgrade(
    spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    _segment(spool, DAY, 1, b"1")
    _segment(spool, OTHER_DAY, 2, b"1")
    _segment(spool, DAY, 3, b"2")
    _segment(spool, OTHER_DAY, 4, b"3", rename=True)
    output = tmp_path / "out"

    def agree(label: str) -> None:
        warehouse_db = tmp_path / f"w-{label}.duckdb"
        Warehouse(warehouse_db, clock=fixed_clock(NOW)).run(spool)
        loaded_db = tmp_path / f"s-{label}.duckdb"
        load_spark_rollups(output, loaded_db)
        for table in ROLLUP_TABLES:
            assert sorted_rows(loaded_db, table) == sorted_rows(warehouse_db, table), table

    with caplog.at_level(logging.WARNING, logger="analytics"):
        spark_rollup(str(spool), str(output))
    assert [r.getMessage() for r in caplog.records] == [
        "spark rollup: left 2 segments of event schema 2, 3 in the spool, unread: written by "
        "a newer cookiewall than this one (schema 1); upgrade it to count them"
    ]
    agree("before")
    loaded = sorted_rows(tmp_path / "s-before.duckdb", "daily_totals")
    assert sum(row[2] + row[4] for row in loaded) == 20  # pageviews + bot hits: 2 segments

    # The upgrade: schema 2 is this cookiewall's now; the segment left in DAY is counted by
    # both engines (Spark: its day grew), the schema 3 one still waits.
    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", "2")
    spark_rollup(str(spool), str(output))
    agree("after")
    loaded = sorted_rows(tmp_path / "s-after.duckdb", "daily_totals")
    assert sum(row[2] + row[4] for row in loaded) == 30
