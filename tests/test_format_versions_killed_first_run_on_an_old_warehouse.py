"""A rollup process SIGKILLed in the middle of the first run on a warehouse made before schema
versions (the run that takes it from schema 1 to 2 and stamps it), with a segment of a newer
event schema waiting in the spool: the file is as it was (no stamp, no event, no device or
consent row), no segment moved or deleted; the next run stamps it, fills the device and
consent mix once and counts every good event once, leaving the newer segment for a newer
rollup, which counts it once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.database import WAREHOUSE_SCHEMA_VERSION
from analytics.event import SCHEMA_VERSION_KEY, Event, to_table
from analytics.spool import write_segment
from analytics.tables import MIX_TABLES
from analytics.warehouse import Warehouse
from tests.cli_support import ONE_DAY, build_one_day_warehouse, cli, event_count
from tests.support import ROOT
from tests.warehouse_support import (
    events_for_days,
    stored_schema_version,
    table_rows,
    tally,
    write_events,
)

# Kills this process after the run's ingest and rollup, before its COMMIT.
KILLED_ROLLUP = """
import os, signal, sys
from analytics.cli import main
from analytics.warehouse import Warehouse
rollup = Warehouse._rollup
def killed(self, con):
    rollup(self, con)
    os.kill(os.getpid(), signal.SIGKILL)
Warehouse._rollup = killed
sys.exit(main(sys.argv[1:]))
"""


def _unstamp(db: Path) -> None:
    """`db` as a release before schema versions made it: no stamp, none of schema 2's tables."""
    con = duckdb.connect(str(db))
    try:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
        for table in MIX_TABLES:
            con.execute(f"DROP TABLE {table}")
    finally:
        con.close()


def _mix_rows(db: Path) -> dict[str, set[tuple[object, ...]]]:
    """The rows of schema 2's tables; a table the file lacks holds none."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        return {
            table: set(con.execute(f"SELECT * FROM {table}").fetchall())
            if table in present
            else set()
            for table in MIX_TABLES
        }
    finally:
        con.close()


def _newer_segment(spool: Path, events: list[Event]) -> Path:
    path = write_segment(spool, ONE_DAY, to_table(events))
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: b"2"}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


def _files(spool: Path) -> dict[str, bytes]:
    return {p.relative_to(spool).as_posix(): p.read_bytes() for p in spool.rglob("*.parquet")}


@pytest.mark.parametrize("dispose", [[], ["--delete-ingested"], ["--archive", "{root}/archive"]])
def test_a_killed_first_run_counts_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dispose: list[str]
) -> None:
    db = build_one_day_warehouse(tmp_path)  # 50 events (seed 14), its segments in spool
    _unstamp(db)  # as every release before versions made it
    old = list(events_for_days(random.Random(14), [ONE_DAY], per_day=50))
    spool = tmp_path / "spool"
    good = list(events_for_days(random.Random(15), [ONE_DAY], per_day=60))
    write_events(spool, good, per_segment=20)
    newer = list(events_for_days(random.Random(16), [ONE_DAY], per_day=20))
    newer_path = _newer_segment(spool, newer)
    spool_before, totals_before = _files(spool), table_rows(db, "daily_totals")
    args = [a.format(root=tmp_path) for a in dispose]
    rollup = ["rollup", "--spool", str(spool), "--db", str(db), *args]

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_ROLLUP, *rollup],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert stored_schema_version(db) is None
    assert event_count(db) == 50
    assert table_rows(db, "daily_totals") == totals_before
    assert _mix_rows(db) == {table: set() for table in MIX_TABLES}
    assert _files(spool) == spool_before
    assert not (tmp_path / "archive").exists()

    again = subprocess.run(cli(*rollup), capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 4, again.stderr
    assert "left 1 segment of event schema 2" in again.stderr
    assert stored_schema_version(db) == str(WAREHOUSE_SCHEMA_VERSION) == "2"
    assert event_count(db) == 50 + 60
    assert table_rows(db, "daily_totals") == tally(old + good)["daily_totals"]
    assert _mix_rows(db) == {table: tally(old + good)[table] for table in MIX_TABLES}
    assert newer_path.read_bytes() == spool_before[newer_path.relative_to(spool).as_posix()]
    if dispose:
        assert _files(spool) == {newer_path.relative_to(spool).as_posix(): newer_path.read_bytes()}

    third = subprocess.run(cli(*rollup), capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert third.returncode == 4, third.stderr
    assert event_count(db) == 50 + 60
    assert _mix_rows(db) == {table: tally(old + good)[table] for table in MIX_TABLES}

    # The upgraded rollup (event schema 2 here) reads the newer segment, once.
    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", "2")
    archive = tmp_path / "archive" if "--archive" in dispose else None
    upgraded = Warehouse(db, archive="delete" if "--delete-ingested" in dispose else archive)
    assert upgraded.run(spool).ingest.segments == 1
    assert upgraded.run(spool).ingest.segments == 0
    assert event_count(db) == 50 + 60 + 20
    assert table_rows(db, "daily_totals") == tally(old + good + newer)["daily_totals"]
    assert _mix_rows(db) == {table: tally(old + good + newer)[table] for table in MIX_TABLES}
