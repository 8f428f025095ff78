"""The rollup's progress bar: on a terminal it counts the events being ingested (the batched read
counts exactly what the single read does); without a terminal there is no bar.
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import struct
import subprocess
import sys
import termios
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import read_terminal
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, table_rows, tally, write_events

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


def _stderr_on_a_terminal(argv: list[str]) -> tuple[int, str, bytes]:
    """Run `argv` with stderr on a pseudo-terminal (120 columns); return code, stdout and
    everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    try:
        received = read_terminal(master, proc)
        assert proc.stdout is not None
        with proc.stdout:
            out = proc.stdout.read().decode()
        return proc.wait(timeout=60), out, received
    finally:
        os.close(master)


def test_on_a_terminal_the_progress_bar_counts_the_events_being_ingested(tmp_path: Path) -> None:
    # Before: the only bar was "checking segments", over the Parquet footers (a blink), and
    # it was gone before the long part, reading the rows, began: a big backlog sat silent.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(31), [FIRST, FIRST + timedelta(days=1)], per_day=3000)
    write_events(spool, events, per_segment=100)
    db = tmp_path / "w.duckdb"
    code, out, terminal = _stderr_on_a_terminal(
        _cli("rollup", "--spool", str(spool), "--db", str(db))
    )
    assert code == 0
    assert out.startswith("ingested 60 segments (6000 events")
    assert b"ingesting" in terminal
    assert b"/6000 " in terminal  # counted in events, against the footers' total
    assert table_rows(db, "daily_totals") == tally(events)["daily_totals"]


def test_without_a_terminal_there_is_no_bar(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(32), [FIRST], per_day=500), per_segment=50)
    argv = _cli("rollup", "--spool", str(spool), "--db", str(tmp_path / "w.duckdb"))
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_the_batched_read_on_a_terminal_counts_exactly_what_the_single_read_does(
    tmp_path: Path, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that these 2000 events are read in many statements.
    monkeypatch.setattr("analytics.warehouse.PROGRESS_MIN_ROWS", 50)
    rng = random.Random(33)
    days = [FIRST + timedelta(days=i) for i in range(5)]
    events = events_for_days(rng, days, per_day=400)
    per_segment = rng.randrange(7, 60)
    totals = {}
    for progress in (False, True):
        spool = tmp_path / f"spool-{progress}"
        write_events(spool, events, per_segment=per_segment)
        victim = sorted(spool.rglob("*.parquet"))[3]
        data = bytearray(victim.read_bytes())  # damaged pages behind a good footer
        for i in range(200, 900):
            data[i] = (data[i] * 7 + 13) % 256
        victim.write_bytes(bytes(data))
        db = tmp_path / f"w-{progress}.duckdb"
        result = Warehouse(db, timezone=zone, clock=fixed_clock(NOW)).run(spool, progress=progress)
        assert len(result.ingest.quarantined) == 1
        totals[progress] = {table: table_rows(db, table) for table in ("events", "daily_pages")}
    assert totals[True] == totals[False]
