"""A stop signal (SIGTERM, SIGHUP, Ctrl-C's SIGINT) that reaches `analytics prune` during its
COMMIT: the rows are deleted, so the prune is finished, not reported as stopped, and so is the
compaction that removes the pruned rows' bytes from the file (as after a rollup's COMMIT).

Before, `prune` called no `before_commit`: the signal raised once COMMIT returned, and the
command said `analytics: error: stopped by SIGTERM` (exit 143) of a committed prune, without
its summary, and skipped the compaction. Run again, the prune deleted nothing and so compacted
nothing: the pruned referrer hosts stayed readable in the file.

The signal is a real one, sent by the process to itself as the COMMIT returns (a wrapper of
`Warehouse._commit`), which is where one sent during COMMIT is handled: Python runs signal
handlers between bytecodes, not inside DuckDB's call.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import event_count
from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events

MARKER = b"zzprunedmarker"
SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
PRUNE_SIGNALLED_AT_COMMIT = """
import os, sys
from analytics.cli import console_main
from analytics.warehouse import Warehouse

signum = int(sys.argv[1])
committed = Warehouse._commit

def commit_then_signal(self, con):
    committed(self, con)
    os.kill(os.getpid(), signum)

Warehouse._commit = commit_then_signal
sys.argv[1:] = sys.argv[2:]
sys.exit(console_main())
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """300 raw events from marker referrer hosts 20 days ago (pruned with --raw-days 5) and
    300 of yesterday, rolled up (dated from the real today, as `prune` counts from it)."""
    today = datetime.now(UTC).date()
    rng = random.Random(242)
    old = [
        event._replace(referrer_host=f"{MARKER.decode()}{index:04d}.example.org")
        for index, event in enumerate(events_for_days(rng, [today - timedelta(days=20)], 300))
    ]
    write_events(tmp_path / "spool", old + events_for_days(rng, [today - timedelta(days=1)], 300))
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(tmp_path / "spool")
    # The marker is not looked for here: DuckDB 1.1 (the floor, `make test-floors`) stores it
    # FSST-compressed, and the signals are worth testing there too. Where it is stored in the
    # clear, tests/test_compact.py checks that it is there before a compaction.
    return db


@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
def test_a_signal_during_the_prunes_commit_lets_it_finish_and_compact(
    warehouse: Path, signum: signal.Signals
) -> None:
    prune = ["prune", "--db", str(warehouse), "--raw-days", "5"]
    done = subprocess.run(
        [sys.executable, "-c", PRUNE_SIGNALLED_AT_COMMIT, str(int(signum)), *prune],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    summary, compacted = done.stdout.splitlines()
    assert summary == "pruned 300 raw events older than 5 days"
    assert compacted.startswith(f"compacted {str(warehouse)!r}: ")
    assert done.stderr == (
        f"analytics: WARNING: {signum.name} came after the prune was committed: the prune was "
        "finished, not rolled back\n"
    )
    assert event_count(warehouse) == 300
    assert MARKER not in warehouse.read_bytes()


# The prune run by the CLI with a signal sent at a chosen moment, by the process to itself:
# as the interpreter exits (an atexit hook), or just before the commit's end is marked.
PRUNE_SIGNALLED = """
import atexit, os, sys
from analytics import cli

moment, signum = sys.argv[1], int(sys.argv[2])
if moment == "at-exit":
    atexit.register(os.kill, os.getpid(), signum)
else:  # "before-commit-ends"
    ends = cli._Stops.commit_ends

    def signal_then_end(self):
        os.kill(os.getpid(), signum)
        ends(self)

    cli._Stops.commit_ends = signal_then_end
sys.argv[1:] = sys.argv[3:]
sys.exit(cli.console_main())
"""


def _prune_signalled(moment: str, signum: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRUNE_SIGNALLED, moment, str(signum), "prune", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "raw_days", [("5", "--no-compact"), ("30",)], ids=["no-compact", "nothing-deleted"]
)
def test_a_signal_as_a_prune_without_compaction_exits_does_not_kill_it(
    warehouse: Path, raw_days: tuple[str, ...]
) -> None:
    """A prune with no compaction to follow is done at its COMMIT: a SIGTERM while the
    interpreter exits is ignored, as after a rollup's (it killed the committed prune: 143)."""
    done = _prune_signalled(
        "at-exit", signal.SIGTERM, "--db", str(warehouse), "--raw-days", *raw_days
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned "), done.stdout
    assert done.stderr == ""


def test_a_signal_just_before_the_commits_end_is_counted_as_during_it(warehouse: Path) -> None:
    """Handled after the command looked for a signal noted during COMMIT but before it marked
    the commit's end, a signal was noted and taken for none: the compaction then said it
    came 'after the compacted file was renamed into place' (or, refused, 'stopped' after a
    committed prune). It is the prune's: one warning, and the compaction finishes."""
    done = _prune_signalled(
        "before-commit-ends", signal.SIGTERM, "--db", str(warehouse), "--raw-days", "5"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "pruned 300 raw events older than 5 days"
    assert done.stderr == (
        "analytics: WARNING: SIGTERM came after the prune was committed: the prune was "
        "finished, not rolled back\n"
    )
    assert MARKER not in warehouse.read_bytes()
