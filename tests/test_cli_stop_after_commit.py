"""A stop signal (SIGTERM, SIGHUP, Ctrl-C's SIGINT) that reaches `analytics rollup` after its
COMMIT: the run is committed, so it is finished, not reported as stopped. Before, the signal
raised wherever the run was (archiving the ingested segments): `analytics: error: stopped by
SIGTERM`, exit 143, of a run whose events were all committed, its segments left in the spool,
and `examples/cron/rollup.sh` (`set -e`) skipped its export.

The signal is made to land after COMMIT for certain: the process is frozen (SIGSTOP) once the
archive folder appears, which happens only when the run moves its first ingested segment
(after COMMIT), and is sent the signal and let go (SIGCONT) only if it was caught in the
middle of archiving (fewer segments in the archive than ingested): still in its run."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.cli_support import cli
from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events

FIRST = date(2026, 11, 1)
DAYS = 4
PER_DAY = 1000
PER_SEGMENT = 4  # many small segments: archiving them takes a while (about 0.1 s)
SEGMENTS = DAYS * PER_DAY // PER_SEGMENT
ATTEMPTS = 12


@pytest.fixture(scope="module")
def pristine_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spool = tmp_path_factory.mktemp("pristine") / "spool"
    days = [FIRST + timedelta(days=i) for i in range(DAYS)]
    events = events_for_days(random.Random(160), days, per_day=PER_DAY)
    assert write_events(spool, events, per_segment=PER_SEGMENT) == SEGMENTS
    return spool


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]  # R, S, T (stopped), Z (exited)


def _stop(pid: int) -> str:
    """SIGSTOP `pid` and wait until the stop took effect: "T", or "Z" had it exited first.
    kill() returns before a process that is not on a CPU has handled the signal: read at
    once, /proc said "R" or "S" for a run about to stop, and a loaded machine (a niced run
    scheduled seldom) had every attempt taken for one that got away."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 60
    while (state := _state(pid)) not in ("T", "t", "Z", "X") and time.monotonic() < deadline:
        time.sleep(0.001)
    return state


def _archived(archive: Path) -> int:
    return sum(1 for _ in archive.rglob("*.parquet"))


def _committed(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM ingested_segments)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _stopped_while_archiving(
    root: Path, signum: int
) -> tuple[subprocess.CompletedProcess[str], int] | None:
    """Run a rollup of a fresh copy of the spool into a fresh database; send `signum` while it
    archives its ingested segments. Returns how it ended and how many segments the archive
    held at the signal, or None when the run could not be caught archiving (it got further)."""
    spool, db, archive = root / "spool", root / "w.duckdb", root / "archive"
    argv = ["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)]
    # The run at the lowest priority, the watcher at ours: on a loaded machine the watcher
    # could miss the tenth of a second the archiving takes.
    proc = subprocess.Popen(
        cli(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=lambda: os.nice(19),
    )
    deadline = time.monotonic() + 120
    while not archive.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    # os.kill, not send_signal: that polls, and could reap the child had it just exited.
    try:
        caught = _stop(proc.pid) == "T" and (at_signal := _archived(archive)) < SEGMENTS
        if caught:
            os.kill(proc.pid, signum)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    if not caught:
        return None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), at_signal


SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_a_stop_signal_after_the_commit_lets_the_run_finish_and_exit_0(
    pristine_spool: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    for attempt in range(ATTEMPTS):
        root = tmp_path / f"run{attempt}"
        shutil.copytree(pristine_spool, root / "spool")
        ended = _stopped_while_archiving(root, signum)
        if ended is not None:
            break
    else:
        pytest.fail(f"{ATTEMPTS} runs were over before they could be caught archiving")
    run, at_signal = ended
    assert at_signal < SEGMENTS  # the signal came after COMMIT, amid the archiving
    # Finished: exit 0 and the summary of a committed run, and one line on stderr says why
    # the signal did not stop it.
    assert (run.returncode, run.stdout) == (
        0,
        f"ingested {SEGMENTS} segments ({DAYS * PER_DAY} events, {DAYS} days); "
        f"rolled up {DAYS} days; pruned 0 raw events\n",
    ), run.stderr
    assert run.stderr == (
        f"analytics: WARNING: {signum.name} came after the run was committed: the run was "
        "finished, not rolled back\n"
    )
    # What it says is so: every event committed once, every ingested segment archived.
    assert _committed(root / "w.duckdb") == (DAYS * PER_DAY, SEGMENTS)
    assert not list((root / "spool").rglob("*.parquet"))
    assert _archived(root / "archive") == SEGMENTS
