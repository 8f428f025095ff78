"""`rollup --engine spark` says in its summary line that it left warehouse exports in the spool
unread (as the DuckDB rollup says it quarantined them), and its exit code stays 0: the counts
are complete, the exports were counted from the segments they were made of.

The Spark run itself is tested in tests/test_spark_leaves_warehouse_exports_unread.py; here the
CLI's wording of what it returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics import spark
from analytics.cli import main


def _spark_returning(counts: spark.SparkRollupCounts) -> Any:
    def fake_rollup(*args: Any, **kwargs: Any) -> spark.SparkRollupCounts:
        return counts

    return fake_rollup


@pytest.mark.parametrize("exports", [(), ("day=2026-11-29/export.parquet",)])
def test_the_summary_names_exports_left_unread(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exports: tuple[str, ...],
) -> None:
    counts = spark.SparkRollupCounts({"daily_totals": 1}, not_segments=exports)
    monkeypatch.setattr(spark, "spark_rollup", _spark_returning(counts))
    (tmp_path / "spool").mkdir()
    code = main(
        ["rollup", "--engine", "spark", "--spool", str(tmp_path / "spool"),
         "--output", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0
    said = capsys.readouterr()
    line = said.out + said.err
    assert "spark rollup: daily_totals 1 row" in line
    named = "left 1 file that is not a segment (a warehouse export) in the spool, unread"
    assert (named in line) == bool(exports), line
