"""A DuckDB file that holds rollups loaded from Spark output (`rollup --engine spark --db`) is
refused by the DuckDB rollup, as the Spark loader refuses a warehouse fed from a spool.

Such a file has rollup rows but no raw events and no `rollup_days`: a DuckDB rollup took each
day a new segment touched for a day never rolled up, recomputed it from the new events alone
and so replaced Spark's full day (45 pageviews became 3) without a word, and the next Spark
load was then refused because the file now had an ingest ledger."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.spark import load_spark_rollups
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    snapshot,
    spark_style_output,
    table_rows,
    tally,
    write_events,
)

DAYS = [date(2026, 11, 27), date(2026, 11, 28)]
NOW = datetime(2026, 11, 29, tzinfo=UTC)
# Every table a refused run must leave as it was (the time zone setting too).
KEPT = ("events", "ingested_segments", "rollup_days", "warehouse_meta", *ROLLUP_TABLES)


def _spark_loaded_database(root: Path) -> tuple[Path, list[object]]:
    """A database filled by `load_spark_rollups` from an output folder laid out as Spark
    writes it (`<table>/day=YYYY-MM-DD/*.parquet`), holding the exact rollups of a spool."""
    events = events_for_days(random.Random(11), DAYS, per_day=50)
    output = spark_style_output(root, events, NOW)
    db = root / "spark.duckdb"
    load_spark_rollups(output, db)
    assert table_rows(db, "daily_totals") == tally(events)["daily_totals"]
    return db, list(events)


def _late_spool(root: Path) -> Path:
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(12), DAYS[1:], per_day=3))
    return spool


def test_a_run_on_a_spark_loaded_database_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db, _ = _spark_loaded_database(tmp_path)
    spool = _late_spool(tmp_path)
    before = snapshot(db, KEPT)

    with pytest.raises(WarehouseError, match="loaded from Spark"):
        Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    with pytest.raises(WarehouseError, match="loaded from Spark"):
        Warehouse(db, clock=fixed_clock(NOW)).ingest(spool)

    assert snapshot(db, KEPT) == before


@pytest.mark.parametrize("spool_state", ["new segments", "empty spool"])
def test_the_cli_refuses_it_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spool_state: str
) -> None:
    db, _ = _spark_loaded_database(tmp_path)
    spool = _late_spool(tmp_path) if spool_state == "new segments" else tmp_path / "empty"
    spool.mkdir(exist_ok=True)
    before = table_rows(db, "daily_totals")

    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 2

    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert "loaded from Spark" in err
    assert len(err.splitlines()) == 1
    assert table_rows(db, "daily_totals") == before
    # Spark can still load into it: no ingest ledger was planted.
    assert main(["report", "summary", "--db", str(db), "--from", "2026-11-27"]) == 0


def test_a_duckdb_warehouse_with_pruned_days_is_not_taken_for_one(tmp_path: Path) -> None:
    # Every day of a DuckDB warehouse keeps its rollup_days row after its raw events go.
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(13), DAYS, per_day=20))
    db = tmp_path / "w.duckdb"
    Warehouse(db, raw_retention_days=1, clock=fixed_clock(datetime(2027, 1, 1, tzinfo=UTC))).run(
        spool
    )
    write_events(spool, events_for_days(random.Random(14), DAYS, per_day=2))

    result = Warehouse(db, clock=fixed_clock(datetime(2027, 1, 1, tzinfo=UTC))).run(spool)

    assert result.ingest.events == 4
