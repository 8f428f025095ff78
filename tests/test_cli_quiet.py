"""`-q/--quiet` for the commands cron runs (rollup, prune, export): no summary line and no
progress bar, so that a rollup every ten minutes without a `>> log` does not mail its owner
144 times a day. A run that needs attention is not silenced: its warning lines and errors
still reach stderr with their exit codes (3: segments not archived, 4: segments of a newer
event schema left, 2: an error). Real processes: stdout and stderr pipes, or a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import random
import struct
import subprocess
import termios
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.cli_support import cli, event_count, read_terminal
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

DAYS = [date(2026, 10, 1), date(2026, 10, 2)]


def _run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*argv), capture_output=True, text=True, cwd=cwd, timeout=120)


def _spool(root: Path, per_day: int = 40, per_segment: int = 20) -> Path:
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(3), DAYS, per_day), per_segment=per_segment)
    return spool


def _newer_segment(spool: Path) -> Path:
    """A segment as a newer cookiewall writes it: event schema 2."""
    path = write_segment(spool, DAYS[0], to_table(events_for_days(random.Random(9), DAYS[:1], 10)))
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: b"2"}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_a_quiet_rollup_prints_nothing_and_does_the_work(tmp_path: Path, flag: str) -> None:
    spool, db = _spool(tmp_path), tmp_path / "w.duckdb"
    for run in range(2):  # the first ingests 80 events; the second has nothing to do
        quiet = _run("rollup", "--spool", str(spool), "--db", str(db), flag)
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", ""), run
    assert event_count(db) == 80


def test_without_quiet_the_summary_line_stays(tmp_path: Path) -> None:
    # The documented default that logs (`>> var/rollup.log`) rely on.
    spool, db = _spool(tmp_path), tmp_path / "w.duckdb"
    first = _run("rollup", "--spool", str(spool), "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ingested 4 segments (80 events, 2 days)")
    again = _run("rollup", "--spool", str(spool), "--db", str(db))
    assert again.stdout == "nothing to do: no new segments\n"


def _on_a_terminal(argv: list[str]) -> tuple[int, bytes]:
    """Run `argv` with stdout and stderr on one pseudo-terminal; its code and what the
    terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    try:
        received = read_terminal(master, proc)
        return proc.wait(timeout=120), received
    finally:
        os.close(master)


@pytest.mark.parametrize("quiet", [True, False])
def test_on_a_terminal_quiet_draws_no_progress_bar(tmp_path: Path, quiet: bool) -> None:
    spool, db = _spool(tmp_path, per_day=3000, per_segment=100), tmp_path / "w.duckdb"
    argv = cli("rollup", "--spool", str(spool), "--db", str(db), *(["--quiet"] if quiet else []))
    code, received = _on_a_terminal(argv)
    assert code == 0, received
    if quiet:
        assert received == b""
    else:  # the control: this backlog draws a bar and prints the summary
        assert b"ingesting" in received
        assert b"ingested 60 segments (6000 events" in received
    assert event_count(db) == 6000


def test_a_quiet_rollup_that_left_newer_segments_warns_and_exits_4(tmp_path: Path) -> None:
    spool, db = _spool(tmp_path), tmp_path / "w.duckdb"
    newer = _newer_segment(spool)
    for run in range(2):  # every run until the upgrade needs attention, the second too
        proc = _run("rollup", "--spool", str(spool), "--db", str(db), "--quiet")
        assert proc.returncode == 4, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.splitlines() == [
            "analytics: WARNING: left 1 segment of event schema 2 in the spool, untouched: "
            "written by a newer cookiewall than this one (schema 1); upgrade it to ingest them"
        ], run
    assert newer.exists()
    assert event_count(db) == 80


def test_a_quiet_rollup_that_could_not_archive_warns_and_exits_3(tmp_path: Path) -> None:
    _spool(tmp_path)
    db = tmp_path / "w.duckdb"
    archive = tmp_path / "archive"
    archive.mkdir()  # a file in its place is refused before any work (exit 2)
    for day in DAYS:  # a file where each day's folder goes: every move fails after COMMIT
        (archive / f"day={day.isoformat()}").write_text("a file where a day folder should be")
    argv = ("rollup", "--spool", "spool", "--db", str(db), "--archive", "archive", "-q")
    for run in range(2):
        proc = _run(*argv, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert proc.stdout == ""
        [line] = proc.stderr.splitlines()
        assert line.startswith("analytics: WARNING: could not move 4 ingested segments"), run
    assert event_count(db) == 80  # counted once


def test_a_quiet_rollup_still_reports_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    proc = _run("rollup", "--spool", str(missing), "--db", str(tmp_path / "w.duckdb"), "-q")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("analytics: error: ")
    assert "nowhere" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(2026, 10, 3, tzinfo=UTC))).run(_spool(tmp_path))
    return db


def test_a_quiet_prune_prints_nothing(warehouse: Path) -> None:
    proc = _run("prune", "--db", str(warehouse), "--raw-days", "1", "--quiet")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert event_count(warehouse) == 0


def test_a_quiet_export_to_a_file_prints_nothing(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "totals.csv"
    argv = ("export", "--db", str(warehouse), "--table", "daily_totals", "--format", "csv")
    proc = _run(*argv, "--output", str(out), "--quiet")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert len(out.read_text().splitlines()) == 5  # a header, two days of two sites
    loud = _run(*argv, "--output", str(out))
    assert loud.stdout == f"exported 4 rows of daily_totals to {out}\n"


def test_a_quiet_export_to_stdout_writes_only_the_data(warehouse: Path) -> None:
    argv = ("export", "--db", str(warehouse), "--table", "daily_totals", "--format", "csv")
    proc = _run(*argv, "--output", "-", "-q")
    assert proc.returncode == 0
    assert proc.stderr == ""  # without --quiet: `exported 4 rows of daily_totals to stdout`
    assert len(proc.stdout.splitlines()) == 5
    assert _run(*argv, "--output", "-").stderr == "exported 4 rows of daily_totals to stdout\n"


@pytest.mark.parametrize("command", ["rollup", "prune", "export"])
def test_help_names_the_option(command: str) -> None:
    proc = _run(command, "--help")
    assert proc.returncode == 0
    assert "-q, --quiet" in proc.stdout
