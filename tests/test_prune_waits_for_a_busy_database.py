"""`analytics prune --wait SECONDS`, as `rollup` and `compact` take it: how long to wait for
another process holding the database before one line and exit 1. Before, `prune` had no
such option (an error, exit 2) and always waited the library's 10 s."""

from __future__ import annotations

import random
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.database import LOCK_WAIT_NOTICE_SECONDS
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events, writer_holding

OLD_DAY = date(2020, 1, 1)  # years before today: any --raw-days prunes it
EVENTS = 40


def _warehouse_with_old_events(root: Path) -> Path:
    spool, db = root / "spool", root / "w.duckdb"
    write_events(spool, events_for_days(random.Random(5), [OLD_DAY], per_day=EVENTS))
    Warehouse(db, clock=fixed_clock(datetime(2020, 1, 2, tzinfo=UTC))).run(spool)
    return db


def _raw_events(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def _prune(db: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        cli("prune", "--db", str(db), "--raw-days", "30", *extra),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("wait", [0.5, 2.5])
def test_prune_waits_as_long_as_asked_then_exits_1_in_one_line(tmp_path: Path, wait: float) -> None:
    db = _warehouse_with_old_events(tmp_path)
    with writer_holding(db):
        done, took = _prune(db, "--wait", f"{wait:g}")
    assert done.returncode == 1, done.stderr
    # A wait past LOCK_WAIT_NOTICE_SECONDS is said as it starts (see
    # tests/test_cli_says_it_waits_for_the_lock.py).
    waiting = (
        f"analytics: waiting for another run to finish with {str(db)!r} (up to {wait:g} s in all)\n"
        if wait > LOCK_WAIT_NOTICE_SECONDS
        else ""
    )
    assert done.stderr == waiting + (
        f"analytics: error: database {str(db)!r} is in use by another process "
        f"(waited {wait:g} s); try again when it has finished\n"
    )
    assert done.stdout == ""
    # The process's own start (Python, DuckDB's import) comes on top of the wait.
    assert wait <= took < wait + 5
    assert _raw_events(db) == EVENTS  # nothing was pruned


def test_once_the_other_process_is_gone_the_same_prune_succeeds(tmp_path: Path) -> None:
    db = _warehouse_with_old_events(tmp_path)
    done, _ = _prune(db, "--wait", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"pruned {EVENTS} raw events older than 30 days")
    assert _raw_events(db) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "'-1' must not be negative"),
        ("soon", "'soon' is not a number of seconds"),
        ("nan", "'nan' is not a number of seconds"),  # before: "'nan' must not be negative"
    ],
)
def test_a_bad_wait_is_one_line_and_exit_2(tmp_path: Path, value: str, message: str) -> None:
    db = _warehouse_with_old_events(tmp_path)
    done, _ = _prune(db, "--wait", value)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert message in done.stderr
    assert _raw_events(db) == EVENTS


def test_help_names_the_option() -> None:
    done = subprocess.run(
        cli("prune", "--help"), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0
    assert "--wait SECONDS" in done.stdout
    assert "(10)" in " ".join(done.stdout.split())
