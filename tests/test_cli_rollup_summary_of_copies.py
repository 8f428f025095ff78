"""`analytics rollup`'s summary line counts the copies of ingested segments it skipped, also
when they are all the run found: before, such a run printed "nothing to do: no new segments"
although it had recorded the copies in the ledger (and moved them to --archive)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events


def _rollup(spool: Path, db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = ["rollup", "--spool", str(spool), "--db", str(db), *extra]
    return subprocess.run(
        [sys.executable, "-m", "analytics", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("archive", [False, True], ids=["kept", "archived"])
def test_a_run_that_only_finds_copies_says_so(tmp_path: Path, archive: bool) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(3), [date(2026, 11, 27)], per_day=30))
    db = tmp_path / "w.duckdb"
    extra = ("--archive", str(tmp_path / "archive")) if archive else ()
    first = _rollup(spool, db, *extra)
    assert first.returncode == 0, first.stderr
    # A backup of the segment restored into the spool under another name.
    (original,) = (tmp_path / "archive" if archive else spool).glob("day=*/*.parquet")
    shutil.copy(original, spool / "day=2026-11-27" / "restored.parquet")

    second = _rollup(spool, db, *extra)

    assert second.returncode == 0, second.stderr
    assert second.stdout == (
        "ingested 0 segments (0 events, 0 days); rolled up 0 days; pruned 0 raw events; "
        "skipped 1 segment with the same content as ingested ones (copies under another name)\n"
    )
    assert "restored.parquet" in second.stderr
    # The next run has nothing left to do, and says so.
    third = _rollup(spool, db, *extra)
    assert third.stdout == "nothing to do: no new segments\n"
    assert (tmp_path / "archive" / "day=2026-11-27" / "restored.parquet").exists() is archive
