"""`analytics rollup` names an archive move under another name in its summary line.

A run whose only news is that an ingested segment went into the archive beside another file
of its name (never over it) logs a warning; its summary line must say so too, not "nothing
to do", or cron's log holds a warning that the run's own line contradicts.
"""

from __future__ import annotations

import random
import subprocess
from datetime import date
from pathlib import Path

from analytics.event import to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.warehouse_support import events_for_days

DAY = date(2026, 11, 1)


def test_a_segment_archived_beside_a_stranger_is_news(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    segment = write_segment(spool, DAY, to_table(events_for_days(random.Random(1), [DAY], 10)))
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(spool)  # ingested, left in the spool
    squatter = tmp_path / "archive" / segment.relative_to(spool)
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"someone else's file")

    run = subprocess.run(
        cli(
            "rollup", "--spool", str(spool), "--db", str(db), "--archive", str(tmp_path / "archive")
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    assert "nothing to do" not in run.stdout + run.stderr
    assert "1 ingested segment archived under another name" in run.stdout + run.stderr
    assert squatter.read_bytes() == b"someone else's file"
    assert not segment.exists()
