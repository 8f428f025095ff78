"""A first Spark run over a new output, stopped after writing some of its tables (a killed
driver, a lost executor): the next run computes every table in full, as the warehouse does.
Needs pyspark and Java (marked `spark` and `slow`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import analytics.spark as spark_module
from analytics import tables
from analytics.spark import MANIFEST, load_spark_rollups, spark_rollup
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import python_knows, sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FIRST, LAST = date(2026, 10, 20), date(2026, 10, 23)  # no traffic in the UTC days between


class Stop(Exception):
    """Stands for the job being killed while it writes its tables."""


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/Los_Angeles"])
@pytest.mark.parametrize("stop_before", ["daily_referrers"])
def test_a_first_run_stopped_between_tables_is_completed_by_the_next(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timezone: str, stop_before: str
) -> None:
    # Before: the half-written output had no manifest, so the next run took it for one from
    # before incremental runs; the empty UTC days beside the local days it held counted as
    # pruned, none of those local days was recomputed, and the tables the stopped run had
    # not reached stayed empty for good.
    if not python_knows(timezone):
        pytest.skip(f"no time-zone data for {timezone}")
    events = [
        at(GMAIL, FIRST, 11),
        at(SEARCH, FIRST, 23, visitor=2),
        at(GMAIL, LAST, 1, visitor=3),
        at(SEARCH, LAST, 12, visitor=4),
    ]
    spool = tmp_path / "spool"
    write_events(spool, events)
    output = tmp_path / "out"
    real = tables.read_sql  # what `spark_module.read_sql` is

    def killed_at_the_table(name: str) -> str:
        if name == f"rollup_{stop_before}.sql":
            raise Stop(name)
        return real(name)

    monkeypatch.setattr(spark_module, "read_sql", killed_at_the_table)
    with pytest.raises(Stop):
        spark_rollup(str(spool), str(output), timezone=timezone)
    monkeypatch.setattr(spark_module, "read_sql", real)
    assert not (output / stop_before).exists()

    spark_rollup(str(spool), str(output))  # the time zone is the stopped run's

    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(
        spool
    )
    loaded_db = tmp_path / "s.duckdb"
    load_spark_rollups(output, loaded_db)
    for table in ROLLUP_TABLES:
        assert sorted_rows(loaded_db, table) == sorted_rows(warehouse_db, table), table
    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["timezone"] == timezone
    assert not [key for key, entry in manifest["spool_days"].items() if entry.get("pruned")]


@pytest.mark.parametrize("cut_at", [0, 25])
def test_a_first_manifest_cut_off_while_written_is_no_manifest(
    spark: Any, tmp_path: Path, cut_at: int
) -> None:
    # Before: with no manifest, the temporary one (left complete by a stop between deleting
    # the old and renaming the new) was read, and a cut-off one (a crash while the first was
    # written, empty after a power loss) failed every later run as an unreadable manifest.
    spool = tmp_path / "spool"
    write_events(spool, [at(GMAIL, FIRST, 11), at(SEARCH, LAST, 12, visitor=2)])
    output = tmp_path / "out"
    output.mkdir()
    whole = json.dumps({"timezone": "UTC", "state_version": 1, "spool_days": {}, "tables": {}})
    (output / f".{MANIFEST}.tmp").write_text(whole[:cut_at])

    counts = spark_rollup(str(spool), str(output))

    assert counts["daily_totals"] == 2
    assert json.loads((output / MANIFEST).read_text())["tables"] == counts
