"""`analytics rollup`'s summary line names the pruned days that late segments added events to.
Such a day is never recomputed (its raw events are gone): the late events are added to its
rollup rows, so it is not among the days "rolled up". Before, the run said "rolled up 0 days"
while that day's totals grew (found by h281, F4)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from tests.warehouse_support import events_for_days, write_events

PRUNED = (date(2020, 1, 1), date(2020, 1, 2))  # years before today: --raw-days 30 prunes them
EVENTS = 20
LATE = 3


def _pageviews_and_bot_hits(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT sum(pageviews + bot_hits) FROM daily_totals").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("days", [1, 2])
def test_late_events_of_pruned_days_are_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: int
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", str(spool), "--db", str(db), "--raw-days", "30"]
    write_events(spool, events_for_days(random.Random(4), list(PRUNED), per_day=EVENTS))
    assert main([*argv, "--delete-ingested"]) == 0  # rolled up, then pruned
    capsys.readouterr()
    late = PRUNED[:days]
    write_events(spool, events_for_days(random.Random(5), list(late), per_day=LATE))

    assert main(argv) == 0

    named = ", ".join(day.isoformat() for day in late)
    pruned_days = "1 pruned day" if days == 1 else f"{days} pruned days"
    assert capsys.readouterr() == (
        f"ingested {days} segment{'s' * (days > 1)} ({LATE * days} events, "
        f"{days} day{'s' * (days > 1)}); rolled up 0 days; "
        f"added late events to {pruned_days} ({named}); pruned 0 raw events\n",
        "",
    )
    assert _pageviews_and_bot_hits(db) == EVENTS * len(PRUNED) + LATE * days
