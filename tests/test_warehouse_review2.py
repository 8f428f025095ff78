"""Second review of the warehouse, reports and CLI: each test pins a bug that was found and
fixed (the comment says what happened before), on real DuckDB files and real subprocesses."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)
RANGE = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review2")
    days = [FIRST + timedelta(days=i) for i in range(28)]
    write_events(root / "spool", events_for_days(random.Random(21), days, per_day=40))
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(NOW)).run(root / "spool")
    return path


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


# -- the CLI in a pipeline -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_stops_early_gets_no_traceback(db: Path, fmt: str) -> None:
    # `analytics report pages ... | head -1`: before, the closed pipe raised BrokenPipeError
    # out of the report (a traceback, exit 1) or, for a short report, out of the final
    # flush ("Exception ignored ... BrokenPipeError", exit 120).
    proc = subprocess.Popen(
        _cli("report", "pages", "--db", str(db), *RANGE, "--format", fmt),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode == 1
