"""A `--db` that names a data file (a spool segment, a CSV or JSON export) says so in one line.

DuckDB opens such a file as an in-memory database holding a view of it. Read-only, as
`report` and `export` open the warehouse, that was the riddle "cannot open database
'….parquet': Catalog Error: Cannot launch in-memory database in read-only mode!"; a writer
(`rollup`, `prune`) already refused it as no cookiewall warehouse. The file is never changed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analytics.event import to_table
from analytics.spool import write_segment
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT


def _data_file(root: Path, kind: str) -> Path:
    if kind == "segment":
        return write_segment(root / "spool", date(2026, 11, 28), to_table([DIRECT_VISIT]))
    path = root / f"daily_totals.{kind}"
    path.write_text(
        "day,site,pageviews\n2026-11-28,example.com,3\n"
        if kind == "csv"
        else '{"day": "2026-11-28", "site": "example.com", "pageviews": 3}\n'
    )
    return path


COMMANDS = {
    "report": ["report", "summary", "--from", "2026-11-01", "--to", "2026-11-28"],
    "export": ["export", "--table", "daily_totals", "--format", "csv", "--output", "OUT"],
    "prune": ["prune", "--raw-days", "30"],
    "rollup": ["rollup", "--spool", "SPOOL"],
}


@pytest.mark.parametrize("kind", ["segment", "csv", "json"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_data_file_as_db_is_one_line_that_says_what_it_is(
    tmp_path: Path, kind: str, command: str
) -> None:
    data = _data_file(tmp_path, kind)
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    (tmp_path / "empty-spool").mkdir()
    argv = [
        {"OUT": str(tmp_path / "out.csv"), "SPOOL": str(tmp_path / "empty-spool")}.get(arg, arg)
        for arg in COMMANDS[command]
    ]

    done = subprocess.run(
        [sys.executable, "-m", "analytics", *argv, "--db", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2, done.stdout
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("analytics: error: ")
    assert "in-memory" not in done.stderr
    assert "not a" in done.stderr
    assert str(data) in done.stderr
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before
    assert not (tmp_path / "out.csv").exists()
