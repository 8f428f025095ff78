"""Spark's output (and spool) kept under a folder named `key=value` loads as it is.

DuckDB's `read_parquet(..., hive_partitioning = true)` takes every `key=value` folder on
the way for a partition, not only the `day=` ones the job writes: an `--output` under
`/srv/site=other/rollups` loaded every row with site "other". The loader now takes `day` from
the file's own `day=` folder and nothing else. Needs pyspark and Java (marked `spark` and
`slow`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.spark import load_spark_rollups, spark_rollup
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = date(2026, 10, 20)


def test_an_output_and_a_spool_under_key_value_folders_keep_their_own_values(
    spark: Any, tmp_path: Path
) -> None:
    spool = tmp_path / "site=other" / "spool"
    write_events(spool, [at(GMAIL, DAY, 9), at(SEARCH, DAY, 10, visitor=2)])
    write_events(spool, [at(GMAIL, date(2026, 10, 21), 9, visitor=3)])
    output = tmp_path / "site=other" / "day=2001-01-01" / "rollups"
    spark_rollup(str(spool), str(output))

    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    loaded_db = tmp_path / "s.duckdb"
    load_spark_rollups(output, loaded_db)
    for table in ROLLUP_TABLES:
        assert sorted_rows(loaded_db, table) == sorted_rows(warehouse_db, table), table
    sites = {row[1] for row in sorted_rows(loaded_db, "daily_totals")}
    assert sites == {GMAIL.site}
