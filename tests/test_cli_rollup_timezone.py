"""`analytics rollup` with a time zone it refuses exits 2 with a one-line error and leaves
no database file behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

PYTHON = sys.executable


def test_a_refused_time_zone_leaves_no_database_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    db = tmp_path / "analytics.duckdb"
    zone = ["--timezone", "posixrules"]
    done = subprocess.run(
        [PYTHON, "-m", "analytics", "rollup", "--spool", str(spool), "--db", str(db), *zone],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("analytics: error: unknown time zone 'posixrules'")
    assert not db.exists()
