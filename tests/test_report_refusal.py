"""A report range the warehouse cannot serve is refused with a message naming yesterday (the
last day a report can cover) as its end, from `run_report` and from the CLI alike.

Each test says what happened before its fix. Real DuckDB files and real CLI subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.support import ROOT


def _utc_today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real warehouse in UTC (the default), made by a run over an empty spool."""
    root = tmp_path_factory.mktemp("empty-utc")
    (root / "spool").mkdir()
    path = root / "w.duckdb"
    Warehouse(path).run(root / "spool")
    return path


# -- 1. A refused range names the end the report would use ---------------------------------
#
# Before: run_report checked the arguments first against the latest "today" of any time zone
# (UTC today + 1 day), and that check's message was the one shown, so `--from <tomorrow>`
# said "start … is after end <today> (no end given: yesterday, the last complete day)": a
# "yesterday" that is today, contradicting its own explanation and the README's example of
# it. Likewise `--from 1899-12-31`: "date range 1899-12-31 … <today> is out of bounds".

Expected = Callable[[date], tuple[str, str]]  # today -> (--from value, whole message)


def _after_end(days: int) -> Expected:
    def expected(today: date) -> tuple[str, str]:
        start = today + timedelta(days=days)
        return str(start), (
            f"start {start} is after end {today - timedelta(days=1)} "
            "(no end given: yesterday, the last complete day)"
        )

    return expected


def _out_of_bounds(start: str) -> Expected:
    # Naming the date that is out of bounds (the end, yesterday, is not): see
    # tests/test_cli_report_range_out_of_bounds_named.py.
    def expected(today: date) -> tuple[str, str]:
        return start, f"start {start} is out of bounds (before 1900)"

    return expected


REFUSED = [
    pytest.param(_after_end(1), id="from-tomorrow"),
    pytest.param(_after_end(30), id="from-next-month"),
    pytest.param(_out_of_bounds("1899-12-31"), id="from-before-1900"),
    pytest.param(_out_of_bounds("0001-01-01"), id="from-year-1"),
]


def _either_side_of_midnight(before: date, after: date, expected: Expected) -> set[str]:
    return {expected(before)[1], expected(after)[1]}


@pytest.mark.parametrize("expected", REFUSED)
@pytest.mark.parametrize("db_exists", [True, False], ids=["warehouse", "missing-db"])
@pytest.mark.parametrize("kind", ["referrers", "summary"])
def test_run_report_refusal_names_yesterday_as_its_end(
    empty_warehouse: Path, tmp_path: Path, expected: Expected, db_exists: bool, kind: str
) -> None:
    before = _utc_today()
    db = empty_warehouse if db_exists else tmp_path / "missing.duckdb"
    with pytest.raises(ReportError) as caught:
        run_report(db, ReportQuery(kind=kind, start=expected(before)[0]))
    assert str(caught.value) in _either_side_of_midnight(before, _utc_today(), expected)
    assert db_exists or not db.exists()  # a bad range still fails before the file is touched


@pytest.mark.parametrize("expected", REFUSED)
@pytest.mark.parametrize("kind", ["referrers", "trends"])
def test_cli_refusal_names_yesterday_as_its_end(
    empty_warehouse: Path, expected: Expected, kind: str
) -> None:
    before = _utc_today()
    argv = ["report", kind, "--db", str(empty_warehouse), "--from", expected(before)[0]]
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    messages = _either_side_of_midnight(before, _utc_today(), expected)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr in {f"analytics: error: {message}\n" for message in messages}


def test_a_range_that_fits_is_still_served(empty_warehouse: Path) -> None:
    """Only the message of a failing range changed: `--from` yesterday alone still works,
    and ends yesterday."""
    before = _utc_today()
    report = run_report(empty_warehouse, ReportQuery(kind="summary", start=before - timedelta(1)))
    assert report.end == report.start == before - timedelta(days=1) or before != _utc_today()
