"""A stop signal (SIGTERM, SIGHUP, SIGINT) that lands after a committed rollup has returned,
while `analytics` prints its summary and exits, no longer kills it (exit 143/129/130 of a
committed run, which a wrapper under `set -e` takes as a failure): the handlers that took
the signals during the run were handed back to the default action at the end of the
command; now, in the CLI's own process, they are ignored until it exits. A program that
calls `main(argv)` gets its signals back as they were. The signal is sent by the process to
itself right after `main()` returns: the last moment before it exits, without a race.
Real processes, a real spool and DuckDB file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events

# console_main() is what the `analytics` script and `python -m analytics` run (the command
# line is sys.argv[1:], the arguments after -c's code); `in_process` calls main() as a program
# embedding the CLI would: with or without its argv, it keeps its own signal handling.
SIGNAL_AFTER_MAIN = """
import os, runpy, signal, sys
from analytics.cli import console_main, main

def as_python_dash_m():
    try:
        runpy.run_module("analytics", run_name="__main__")  # what `python -m analytics` runs
    except SystemExit as exit:
        return exit.code
    raise AssertionError("python -m analytics did not exit")

signum, how = int(os.environ["SIGNUM"]), os.environ["IN_PROCESS"]
runs = {"0": console_main, "1": lambda: main(sys.argv[1:]), "2": main, "m": as_python_dash_m}
code = runs[how]()
os.kill(os.getpid(), signum)
sys.exit(code)
"""

STOPS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGINT": signal.SIGINT}


def _spool(tmp_path: Path) -> Path:
    events = events_for_days(random.Random(5), [date(2026, 11, 1)], per_day=30)
    write_events(tmp_path / "spool", events, per_segment=15)
    return tmp_path / "spool"


def _rollup_then_signal(
    tmp_path: Path, signum: int, *, in_process: bool | str, spool: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["rollup", "--spool", spool or str(_spool(tmp_path))]
    argv += ["--db", str(tmp_path / "w.duckdb"), "--delete-ingested"]
    how = in_process if isinstance(in_process, str) else ("1" if in_process else "0")
    env = {"SIGNUM": str(int(signum)), "IN_PROCESS": how}
    return subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_MAIN, *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", list(STOPS))
def test_a_stop_signal_after_a_committed_run_returned_leaves_its_exit_status(
    tmp_path: Path, name: str
) -> None:
    run = _rollup_then_signal(tmp_path, STOPS[name], in_process=False)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.startswith("ingested 2 segments")
    assert not list((tmp_path / "spool").rglob("*.parquet"))  # the run was finished


def test_a_program_calling_main_gets_its_signals_back(tmp_path: Path) -> None:
    # The control: main(argv), as a program embedding the CLI calls it, hands the signals
    # back to their default action; SIGTERM then ends that program, as it would have.
    run = _rollup_then_signal(tmp_path, signal.SIGTERM, in_process=True)
    assert run.returncode == -signal.SIGTERM, run.stderr
    assert run.stdout.startswith("ingested 2 segments")


def test_a_program_calling_main_without_arguments_gets_its_signals_back(tmp_path: Path) -> None:
    # main() with no argv reads sys.argv, as a wrapper that sets sys.argv and calls it does:
    # it is still a program of its own, and must stay stoppable after the run (the signals
    # were left ignored for good, and children it started later inherited that).
    run = _rollup_then_signal(tmp_path, signal.SIGTERM, in_process="2")
    assert run.returncode == -signal.SIGTERM, run.stderr
    assert run.stdout.startswith("ingested 2 segments")


def test_python_dash_m_analytics_is_the_whole_process(tmp_path: Path) -> None:
    # `python -m analytics` (analytics/__main__.py) runs the command as the process, as the
    # console script does: a late SIGTERM leaves the committed run's exit status.
    run = _rollup_then_signal(tmp_path, signal.SIGTERM, in_process="m")
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.startswith("ingested 2 segments")


def test_a_run_that_committed_nothing_gets_the_default_action_back(tmp_path: Path) -> None:
    # The control: a run refused before its COMMIT (no spool) is not a committed run.
    run = _rollup_then_signal(
        tmp_path, signal.SIGTERM, in_process=False, spool=str(tmp_path / "none")
    )
    assert run.returncode == -signal.SIGTERM, run.stderr
    assert "does not exist" in run.stderr
