"""`analytics rollup --engine spark` that leaves segments of a newer event schema unread exits 4
and says so in its summary line, as the DuckDB engine's rollup does: exit 0 would let cron
believe the spool is drained while it grows. `spark_rollup` returns the table counts as before
(a dict), with the names it left in `newer_schema`.

Needs pyspark and Java (marked `spark` and `slow`); the CLI runs in this process, on the
module's session (a running session is reused, as under spark-submit).
"""

from __future__ import annotations

import logging
import random
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spark import load_spark_rollups, spark_rollup
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from tests.warehouse_support import events_for_days, sorted_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = date(2026, 10, 1)
OTHER_DAY = date(2026, 10, 2)
NOTE = "; left {n} segment of a newer event schema in the spool (upgrade cookiewall to count them)"


def _segment(spool: Path, day: date, seed: int, version: bytes) -> Path:
    """A real segment of 10 events, rewritten with `cookiewall.schema_version` = `version`."""
    path = write_segment(
        spool, day, to_table(events_for_days(random.Random(seed), [day], per_day=10))
    )
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: version}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_library_returns_the_counts_and_what_it_left(spark: Any, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    _segment(spool, DAY, 1, b"1")
    newer = [_segment(spool, DAY, 2, b"2"), _segment(spool, OTHER_DAY, 3, b"7")]
    counts = spark_rollup(str(spool), str(tmp_path / "out"))
    # Still the dict of table -> rows, as the tables hold them.
    assert load_spark_rollups(tmp_path / "out", tmp_path / "w.duckdb") == counts
    assert set(counts) == set(ROLLUP_TABLES)
    assert counts.newer_schema == tuple(sorted(_name(p) for p in newer))


def test_the_cli_exits_4_on_every_run_until_the_upgrade(
    spark: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool, output, db = tmp_path / "spool", tmp_path / "out", tmp_path / "w.duckdb"
    _segment(spool, DAY, 1, b"1")
    _segment(spool, DAY, 2, b"2")
    argv = ["rollup", "--engine", "spark", "--spool", str(spool), "--output", str(output)]
    argv += ["--db", str(db)]  # loaded first, then the exit code: the load changes nothing
    for _ in range(2):  # the second run: nothing new, still left, still 4
        with caplog.at_level(logging.WARNING, logger="analytics"):
            assert main(argv) == 4
        out = capsys.readouterr().out
        assert out.startswith("spark rollup: ")
        assert out.rstrip("\n").endswith(NOTE.format(n=1))
        assert [r.getMessage()[:47] for r in caplog.records] == [
            "spark rollup: left 1 segment of event schema 2 "
        ]
        caplog.clear()
    loaded = sorted_rows(db, "daily_totals")
    assert sum(r[2] + r[4] for r in loaded) == 10  # pageviews + bot hits: the schema 1 one

    # Upgraded: schema 2 is this cookiewall's now; the run counts it and exits 0, no note.
    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", "2")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("spark rollup: ")
    assert "newer event schema" not in out
    assert sum(r[2] + r[4] for r in sorted_rows(db, "daily_totals")) == 20
