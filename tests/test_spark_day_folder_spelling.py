"""A segment filed under another spelling of its day folder (``day=20261021``, or the ISO week
date ``day=2026-W43-3``, which Python's `date.fromisoformat` reads as that day, as the DuckDB
engine's listing does) is read by Spark from where it lies: the two engines agree, on the
first run and when it arrives late. Needs pyspark and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.spark import load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = date(2026, 10, 21)


def _file_under(spool: Path, folder: str, hour: int, visitor: int) -> None:
    """One segment of DAY, moved into the day folder spelled `folder`."""
    scratch = spool.parent / f"scratch-{folder}-{hour}"
    written = write_segment(scratch, DAY, _table([at(SEARCH, DAY, hour, visitor=visitor)]))
    (spool / folder).mkdir(exist_ok=True)
    shutil.move(written, spool / folder / written.name)
    shutil.rmtree(scratch)


def _table(events: list[Any]) -> Any:
    from analytics.event import to_table

    return to_table(events)


def _engines_agree(spool: Path, output: Path, folder: Path, timezone: str) -> None:
    warehouse_db = folder / "w.duckdb"
    warehouse_db.unlink(missing_ok=True)
    Warehouse(warehouse_db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(
        spool
    )
    loaded_db = folder / "s.duckdb"
    loaded_db.unlink(missing_ok=True)
    load_spark_rollups(output, loaded_db)
    for table in ROLLUP_TABLES:
        assert sorted_rows(loaded_db, table) == sorted_rows(warehouse_db, table), table


@pytest.mark.parametrize(
    ("timezone", "spelling"), [("UTC", "day=20261021"), ("Europe/Berlin", "day=2026-W43-3")]
)
def test_a_segment_in_another_spelling_of_its_day_folder_is_read_where_it_lies(
    spark: Any, tmp_path: Path, timezone: str, spelling: str
) -> None:
    # Before: Spark was given day=2026-10-21/<name>, which does not exist: PATH_NOT_FOUND on
    # every run, while the DuckDB engine rolled the same spool up.
    spool = tmp_path / "spool"
    write_events(spool, [at(GMAIL, DAY - timedelta(days=1), 12), at(GMAIL, DAY, 9, visitor=2)])
    _file_under(spool, spelling, 23, visitor=3)
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone=timezone)
    _engines_agree(spool, output, tmp_path, timezone)

    # The spool day pruned, then a late segment under that spelling: added, not lost.
    shutil.rmtree(spool / f"day={DAY.isoformat()}")
    spark_rollup(str(spool), str(output))
    _file_under(spool, spelling, 10, visitor=4)
    spark_rollup(str(spool), str(output))
    loaded_db = tmp_path / "late.duckdb"
    load_spark_rollups(output, loaded_db)
    totals = {row[0]: row[2] for row in sorted_rows(loaded_db, "daily_totals")}
    assert sum(totals.values()) == 4  # every pageview counted once, the late one too
