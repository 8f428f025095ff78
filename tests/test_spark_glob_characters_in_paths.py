"""A spool or an output folder whose name holds Hadoop glob characters ("site [prod]",
"{2026,2027}") means itself: Spark reads and counts exactly what the DuckDB engine
does, on a first run and when a late segment is summed into existing rows. Needs pyspark
and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.spark import MANIFEST, load_spark_rollups, spark_rollup
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = date(2026, 10, 20)


@pytest.mark.parametrize(
    ("spool_name", "output_name"),
    [("site [prod]/spool", "rollups"), ("spool", "rollups {2026,2027} [b]")],
)
def test_glob_characters_in_the_spool_and_output_folders_mean_themselves(
    spark: Any, tmp_path: Path, spool_name: str, output_name: str
) -> None:
    # Before: Spark read the spool folder's name as a pattern (PATH_NOT_FOUND for "[prod]"
    # and "{...}"), and the output's: its tables were found empty, so the manifest said 0
    # rows and a late segment's sums replaced the day's rows instead of adding to them.
    spool = tmp_path / spool_name
    write_events(spool, [at(GMAIL, DAY, 9), at(SEARCH, DAY, 10, visitor=2)])
    write_events(spool, [at(GMAIL, date(2026, 10, 21), 9, visitor=3)])
    output = tmp_path / output_name
    counts = spark_rollup(str(spool), str(output))

    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    loaded_db = tmp_path / "s.duckdb"
    load_spark_rollups(output, loaded_db)
    for table in ROLLUP_TABLES:
        expected = sorted_rows(warehouse_db, table)
        assert sorted_rows(loaded_db, table) == expected, table
        assert counts[table] == len(expected), table
    assert json.loads((output / MANIFEST).read_text())["tables"] == counts

    # The day pruned from the spool, then a late segment: added to its rows.
    shutil.rmtree(spool / f"day={DAY.isoformat()}")
    spark_rollup(str(spool), str(output))
    write_events(spool, [at(GMAIL, DAY, 11, visitor=4)])
    spark_rollup(str(spool), str(output))
    late_db = tmp_path / "late.duckdb"
    load_spark_rollups(output, late_db)
    totals = {row[0]: row[2] for row in sorted_rows(late_db, "daily_totals")}
    assert totals == {DAY: 3, date(2026, 10, 21): 1}
