"""A report on a database another process is writing: it waits for a rollup to finish, and
after a bounded wait is a busy error (one line and exit 1 on the CLI).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.errors import WarehouseLockedError
from analytics.reports import ReportError, ReportQuery, run_report
from tests.cli_support import ONE_DAY, build_one_day_warehouse
from tests.support import ROOT
from tests.warehouse_support import writer_holding

SUMMARY = ReportQuery(kind="summary", start=ONE_DAY, end=ONE_DAY)


def test_a_report_on_a_busy_database_is_a_busy_error_after_a_bounded_wait(tmp_path: Path) -> None:
    # Before: the report gave up at once with DuckDB's raw lock message as a plain
    # ReportError, so `analytics report` exited 2 (bad input), not 1 (busy: try again).
    db = build_one_day_warehouse(tmp_path)
    with writer_holding(db):
        started = time.monotonic()
        with pytest.raises(ReportError, match="in use by another process") as caught:
            run_report(db, SUMMARY, lock_timeout=0.5)
        assert isinstance(caught.value, WarehouseLockedError)
        assert 0.4 < time.monotonic() - started < 5


def test_a_report_waits_for_a_rollup_to_finish(tmp_path: Path) -> None:
    db = build_one_day_warehouse(tmp_path)
    with writer_holding(db) as holder:
        report = subprocess.Popen(
            [sys.executable, "-m", "analytics", "report", "summary", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        time.sleep(1.5)  # the "rollup" holds the file while the report starts
        assert holder.stdin is not None
        holder.stdin.close()
        out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    assert out.startswith("Summary")


@pytest.mark.slow
def test_cli_report_on_a_busy_database_exits_1_with_one_line(tmp_path: Path) -> None:
    db = build_one_day_warehouse(tmp_path)
    with writer_holding(db):
        result = subprocess.run(
            [sys.executable, "-m", "analytics", "report", "summary", "--db", str(db)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert result.returncode == 1
    # The wait is said as it starts (tests/test_cli_says_it_waits_for_the_lock.py), then the
    # one error line.
    waiting, error = result.stderr.splitlines()
    assert waiting == (
        f"analytics: waiting for another run to finish with {str(db)!r} (up to 10 s in all)"
    )
    assert error.startswith("analytics: error: database")
