"""Warehouses and command lines for the CLI and report tests. Each builder writes generated
traffic through the real spool writer under `root/spool` and rolls it up with the real
`Warehouse` into `root/w.duckdb` at a fixed clock, so that the numbers a test reads do not
depend on today's date; `pages_report` goes on to run the report. A test wraps the warehouse
it needs in a fixture of its own (module-scoped where it is only read), rather than importing
fixtures across modules."""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from analytics.reports import Report, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, seeded_spool, write_events

FIRST = date(2026, 10, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]  # the days of five_day_spool
PER_DAY = 30  # events a day in five_day_spool
ONE_DAY = date(2026, 11, 1)  # the only day of one_day_warehouse
OCTOBER_30 = datetime(2026, 10, 30, tzinfo=UTC)


def cli(*argv: str) -> list[str]:
    """The command line that runs `analytics argv...` in a fresh Python process."""
    return [sys.executable, "-m", "analytics", *argv]


def read_terminal(master: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything a pseudo-terminal (its `master` end) received from `proc` until the other
    end closed or `proc` ended: read as it comes, since a full terminal would block it."""
    received = b""
    while True:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            received += chunk
        elif proc.poll() is not None:
            break
    return received


def event_count(db: Path) -> int:
    """How many raw events the `events` table of `db` holds."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        con.close()


def _rolled_up(root: Path, spool: Path, now: datetime) -> Path:
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(now)).run(spool)
    return db


def five_day_spool(root: Path) -> Path:
    """`root/spool` with PER_DAY events on each of DAYS (2026-10-01 to -05), seed 7."""
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(7), DAYS, per_day=PER_DAY))
    return spool


def build_five_day_warehouse(root: Path) -> Path:
    """`five_day_spool` rolled up on 2026-10-07: `root/w.duckdb`."""
    return _rolled_up(root, five_day_spool(root), datetime(2026, 10, 7, tzinfo=UTC))


def build_three_day_warehouse(root: Path) -> Path:
    """`seeded_spool` of 2026-10-01 to -03 (30 events a day, seed 40) rolled up on 2026-10-30."""
    spool, _ = seeded_spool(root, FIRST, seed=40, days=3)
    return _rolled_up(root, spool, OCTOBER_30)


def build_four_week_warehouse(root: Path) -> Path:
    """40 events a day for the 28 days from 2026-10-01 (seed 21), rolled up on 2026-10-30."""
    days = [FIRST + timedelta(days=i) for i in range(28)]
    write_events(root / "spool", events_for_days(random.Random(21), days, per_day=40))
    return _rolled_up(root, root / "spool", OCTOBER_30)


def build_two_busy_days_warehouse(root: Path) -> Path:
    """400 events on each of 2026-10-01 and -02 (seed 68), rolled up on 2026-10-30."""
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(68), [FIRST, FIRST + timedelta(days=1)], 400))
    return _rolled_up(root, spool, OCTOBER_30)


def build_one_day_warehouse(root: Path) -> Path:
    """50 events on ONE_DAY (2026-11-01, seed 14), rolled up on 2026-11-05."""
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(14), [ONE_DAY], per_day=50))
    return _rolled_up(root, spool, datetime(2026, 11, 5, tzinfo=UTC))


def pages_report(root: Path, paths: Sequence[str], *, seed: int, per_day: int) -> Report:
    """The `pages` report of 2026-10-01 from a warehouse in `root` (rolled up on 2026-10-30)
    whose `per_day` visits that day, none by a bot, go to `paths` in turn (seed `seed`)."""
    base = events_for_days(random.Random(seed), [FIRST], per_day=per_day)
    spool = root / "spool"
    visits = [e._replace(path=paths[i % len(paths)], is_bot=False) for i, e in enumerate(base)]
    write_events(spool, visits)
    db = _rolled_up(root, spool, OCTOBER_30)
    return run_report(
        db, ReportQuery(kind="pages", start=FIRST, end=FIRST, today=OCTOBER_30.date())
    )
