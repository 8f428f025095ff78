"""Ctrl-C in a program that calls the library (Python's own SIGINT handler) while the checkpoint
after a COMMIT runs: the work is committed and stays so, and the program gets the
KeyboardInterrupt it expects of a Ctrl-C, from `Warehouse.run`, `Warehouse.prune` and
`load_spark_rollups` alike.

Before (review r251 F2): DuckDB turns a KeyboardInterrupt raised inside its call into
`RuntimeError('Query interrupted')`, and the checkpoint let it through: a committed run raised
a RuntimeError, which a program that catches KeyboardInterrupt to shut down does not catch
(before that checkpoint existed, the Ctrl-C came out of the close as a KeyboardInterrupt).

The SIGINT is real, sent to a real child process by a process of its own that a pipe wakes
just as the CHECKPOINT call begins: a thread of the child would first need the GIL, which
DuckDB may take back before the thread gets it. The call can still end before the signal
lands (then the KeyboardInterrupt comes from Python code, as always); so each attempt says
what the call raised, and the test takes the first whose call raised DuckDB's RuntimeError.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import events_for_days, spark_style_output, write_events

FIRST = date(2026, 10, 1)
DAYS = 3
PER_DAY = 10_000  # a journal whose checkpoint takes long enough for the signal to land in it
ATTEMPTS = 8
# What the CHECKPOINT call raises when Python's SIGINT handler raised inside it (it may also
# come out as the KeyboardInterrupt itself, which was never the problem).
DUCKDBS_WORDS = "RuntimeError('Query interrupted')"

# argv: what ("run", "prune", "spark"), the database, the spool or Spark output. Prints one JSON
# line: what the call raised, and what the CHECKPOINT call itself raised (None: it returned).
CTRL_C_AT_CHECKPOINT = """
import json, os, signal, sys

read_end, write_end = os.pipe()
parent = os.getpid()
if os.fork() == 0:  # before DuckDB starts its threads
    os.close(write_end)
    if os.read(read_end, 1):
        os.kill(parent, signal.SIGINT)
    os._exit(0)
os.close(read_end)

from analytics import warehouse
from analytics.spark import load_spark_rollups

checkpoint_committed = warehouse.checkpoint_committed
landed = []


class SignalledAtCheckpoint:
    def __init__(self, con):
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args):
        if sql != "CHECKPOINT":
            return self._con.execute(sql, *args)
        os.write(write_end, b"!")
        try:
            return self._con.execute(sql, *args)
        except BaseException as exc:
            landed.append(repr(exc))
            raise


warehouse.checkpoint_committed = lambda con, path: checkpoint_committed(
    SignalledAtCheckpoint(con), path
)
what, db, source = sys.argv[1:]
try:
    if what == "run":
        warehouse.Warehouse(db, raw_retention_days=36500).run(source)
    elif what == "prune":
        warehouse.Warehouse(db).prune(5)
    else:
        load_spark_rollups(source, db)
    raised = None
except BaseException as exc:
    raised = repr(exc)
print(json.dumps({"raised": raised, "checkpoint": landed[0] if landed else None}))
"""


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spool = tmp_path_factory.mktemp("pristine") / "spool"
    days = [FIRST + timedelta(days=i) for i in range(DAYS)]
    write_events(spool, events_for_days(random.Random(253), days, PER_DAY), per_segment=PER_DAY)
    return spool


def _prepared(what: str, spool: Path, root: Path) -> tuple[Path, Path]:
    """The database and the source for one attempt, fresh."""
    db = root / "w.duckdb"
    if what == "spark":
        events = events_for_days(random.Random(253), [FIRST], PER_DAY)
        return db, spark_style_output(root, events, datetime.now(UTC))
    source = Path(shutil.copytree(spool, root / "spool"))
    if what == "prune":  # committed in full, to be pruned (its days are older than 5)
        Warehouse(db, raw_retention_days=36500).run(source)
    return db, source


def _counted(db: Path) -> tuple[int, int]:
    """Raw events kept, and events the rollups count."""
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT COUNT(*) FROM events), "
            "(SELECT SUM(pageviews) + SUM(bot_hits) FROM daily_totals)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.parametrize("what", ["run", "prune", "spark"])
def test_ctrl_c_during_the_checkpoint_after_commit_is_a_keyboard_interrupt(
    spool: Path, tmp_path: Path, what: str
) -> None:
    for attempt in range(ATTEMPTS):
        root = tmp_path / f"attempt{attempt}"
        root.mkdir()
        db, source = _prepared(what, spool, root)
        done = subprocess.run(
            [sys.executable, "-c", CTRL_C_AT_CHECKPOINT, what, str(db), str(source)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        outcome = json.loads(done.stdout)
        if outcome["checkpoint"] == DUCKDBS_WORDS:
            break  # the signal landed inside the CHECKPOINT call, and DuckDB said so its way
    else:
        pytest.fail(f"no SIGINT landed inside the CHECKPOINT call in {ATTEMPTS} attempts")

    # Before: "RuntimeError('Query interrupted')" out of a committed run.
    assert outcome["raised"] == "KeyboardInterrupt()", outcome
    assert done.stderr == ""
    # Committed all the same, and readable (the journal replayed or checkpointed).
    expected = {"run": (DAYS * PER_DAY,) * 2, "prune": (0, DAYS * PER_DAY), "spark": (0, PER_DAY)}
    assert _counted(db) == expected[what]
