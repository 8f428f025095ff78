"""SIGTERM (cron's `timeout`, `systemctl stop`) and SIGHUP (a closed terminal or ssh session)
during a long command: like Ctrl-C, the command stops within moments, says so in one line,
exits 128 + the signal's number, commits nothing and leaves no temporary file behind. A
SIGHUP that `nohup` ignores stays ignored. Real subprocesses on a 2M-event warehouse.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from bench.gen import day_table
from tests.cli_support import cli
from tests.support import ROOT

FIRST = date(2026, 11, 1)
SEGMENTS = 10
PER_SEGMENT = 200_000  # a rollup or an export of the events that takes a second or more


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spool, warehouse): 2M events in the spool, and a warehouse already holding them."""
    root = tmp_path_factory.mktemp("big")
    table = day_table(FIRST, PER_SEGMENT, seed=89)
    for i in range(SEGMENTS):
        write_segment(root / "spool", FIRST + timedelta(days=i), table)
    db = root / "full.duckdb"
    Warehouse(db).run(root / "spool")
    return root / "spool", db


def _committed_events(db: Path) -> int:
    """Raw events committed to `db`: 0 also when the signal came before its tables were."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'"
        ).fetchall()[0][0]
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0]) if found else 0
    finally:
        con.close()


def _signal_when(
    argv: list[str], started: Callable[[], bool], signum: int, *, ignoring_hangups: bool = False
) -> tuple[int, str, float]:
    """Run the CLI (with SIGHUP ignored, if asked); once `started()` holds (the work has
    begun) send `signum`. Returns the exit code, stderr and the seconds from the signal to
    the exit."""
    command = cli(*argv)
    if ignoring_hangups:
        command = ["sh", "-c", 'trap "" HUP; exec "$@"', "sh", *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 30
    while not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.2)
    assert proc.poll() is None, "the command ended before the signal: make it longer"
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode(), time.monotonic() - sent


STOPS = [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGHUP, "SIGHUP", 129)]


@pytest.mark.parametrize(("signum", "name", "code"), STOPS, ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_an_export_removes_its_temporary_file(
    big: tuple[Path, Path], tmp_path: Path, signum: int, name: str, code: int
) -> None:
    # Before: the default action killed the process on the spot, with no line, and left
    # a `.tmp-export-…` file (up to the size of the events table) for every run a
    # timeout stopped.
    _, db = big
    out = tmp_path / "events.csv"
    argv = ["export", "--db", str(db), "--table", "events", "--format", "csv"]

    def writing() -> bool:
        return any(tmp_path.iterdir())

    returncode, err, seconds = _signal_when([*argv, "--output", str(out)], writing, signum)
    assert (returncode, err) == (code, f"analytics: error: stopped by {name}\n")
    assert seconds < 5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("signum", "name", "code"), STOPS, ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_rollup_stops_it_with_nothing_committed(
    big: tuple[Path, Path], tmp_path: Path, signum: int, name: str, code: int
) -> None:
    spool, _ = big
    db = tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", str(spool), "--db", str(db)]
    returncode, err, seconds = _signal_when(argv, db.exists, signum)
    assert (returncode, err) == (code, f"analytics: error: stopped by {name}\n")
    assert seconds < 5
    assert _committed_events(db) == 0


def test_a_hangup_that_nohup_ignores_stays_ignored(big: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = big
    out = tmp_path / "events.csv"
    argv = ["export", "--db", str(db), "--table", "events", "--format", "csv", "--output", str(out)]

    def writing() -> bool:
        return any(tmp_path.iterdir())

    # As `nohup` starts it: SIGHUP ignored, then exec. A shell's `trap`, not a `preexec_fn`:
    # Python code between fork and exec crashed the child (SIGSEGV) when the test process had
    # threads of earlier tests running.
    returncode, err, _ = _signal_when(argv, writing, signal.SIGHUP, ignoring_hangups=True)
    assert (returncode, err) == (0, "")
    assert out.stat().st_size > SEGMENTS * PER_SEGMENT * 50
