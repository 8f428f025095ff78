"""The Spark rollup, like the DuckDB ingest, never counts a warehouse export saved into a local
spool: `export --table events --format parquet --output <spool>/day=…/export.parquet` holds
the events of the segments it was made of, and Spark read it as one more segment (every count
of those days doubled). It is left out of the listing, unread (Spark leaves the spool as it
is; the DuckDB rollup moves it to quarantine), said in one line, and named in
`SparkRollupCounts.not_segments`. The listing tests need no Spark; the rollup test needs
pyspark and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.event import to_table
from analytics.export import export_table
from analytics.spark import list_spool, load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, sorted_rows

DAY = date(2026, 10, 1)
OTHER_DAY = date(2026, 10, 2)
NOW = datetime(2026, 10, 5, tzinfo=UTC)


def _spool(tmp_path: Path) -> tuple[Path, list[Path]]:
    spool = tmp_path / "spool"
    sealed = [
        write_segment(spool, d, to_table(events_for_days(random.Random(n), [d], per_day=10)))
        for n, d in enumerate([DAY, DAY, OTHER_DAY])
    ]
    return spool, sealed


def _export_into(spool: Path, tmp_path: Path, *, marked: bool) -> str:
    """An export of `events` saved into DAY's folder; returns its spool name."""
    db = tmp_path / "source.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    target = spool / f"day={DAY.isoformat()}" / "export.parquet"
    if marked:
        export_table(db, "events", "parquet", target)
    else:  # an export made before the mark, or DuckDB's own COPY: the day column tells
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute(f"COPY (SELECT * FROM events) TO '{target}' (FORMAT parquet)")
    return f"day={DAY.isoformat()}/export.parquet"


@pytest.mark.parametrize("marked", [True, False], ids=["analytics export", "unmarked"])
def test_the_listing_leaves_out_an_export(tmp_path: Path, marked: bool) -> None:
    spool, sealed = _spool(tmp_path)
    name = _export_into(spool, tmp_path, marked=marked)

    listing = list_spool(None, str(spool))

    assert listing.segments == {
        DAY: tuple(sorted(p.name for p in sealed[:2])),
        OTHER_DAY: (sealed[2].name,),
    }
    assert listing.exports == frozenset({name})
    # Its folder holds a file Spark must not read: read file by file, not as a folder.
    assert listing.clean == frozenset({OTHER_DAY})


@pytest.mark.spark
@pytest.mark.slow
def test_spark_counts_an_export_in_the_spool_once_as_duckdb_does(
    spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool, _ = _spool(tmp_path)
    name = _export_into(spool, tmp_path, marked=True)
    output = tmp_path / "out"

    with caplog.at_level(logging.WARNING, logger="analytics"):
        counts = spark_rollup(str(spool), str(output))

    loaded = tmp_path / "loaded.duckdb"
    load_spark_rollups(output, loaded)
    totals = sorted_rows(loaded, "daily_totals")
    assert sum(row[2] + row[4] for row in totals) == 30  # pageviews + bot hits: 3 segments
    assert counts.not_segments == (name,)
    assert [r.getMessage() for r in caplog.records] == [
        "spark rollup: left 1 file in the spool unread: an export of the warehouse, not a "
        f"segment ({name}); move it out of the spool"
    ]
    # The DuckDB rollup of the same spool (it quarantines the export) agrees table by table.
    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, clock=fixed_clock(NOW)).run(spool)
    for table in ROLLUP_TABLES:
        assert sorted_rows(loaded, table) == sorted_rows(warehouse_db, table), table
