"""A count of one is said in the singular in the CLI's lines: before, a rollup of one segment
said "ingested 1 segments (1 events, 1 days); rolled up 1 days", a prune "pruned 1 raw events
older than 1 days", an export "exported 1 rows". Other counts keep the plural."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

OLD_DAY = date(2020, 1, 1)  # years before today: `prune --raw-days 1` deletes it


def _spool(root: Path, events: int, *, day: date) -> Path:
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(3), [day], per_day=events))
    return spool


def _old_warehouse(root: Path, events: int) -> Path:
    """`events` raw events of OLD_DAY (one segment), rolled up the day after."""
    db = root / "w.duckdb"
    clock = fixed_clock(datetime(2020, 1, 2, tzinfo=UTC))
    Warehouse(db, clock=clock).run(_spool(root, events, day=OLD_DAY))
    return db


def _rollup(root: Path, events: int) -> list[str]:
    recent = datetime.now(UTC).date() - timedelta(days=2)  # kept by the default --raw-days
    spool = _spool(root, events, day=recent)
    return ["rollup", "--spool", str(spool), "--db", str(root / "w.duckdb")]


def _prune(root: Path, events: int) -> list[str]:
    db = _old_warehouse(root, events)
    return ["prune", "--db", str(db), "--raw-days", "1", "--no-compact"]


def _export(root: Path, events: int) -> list[str]:
    db = _old_warehouse(root, events)  # one site, one day: daily_totals holds one row
    out = root / "totals.csv"
    return ["export", "--db", str(db), "--table", "daily_totals", "--format", "csv",
            "--output", str(out)]  # fmt: skip


Command = Callable[[Path, int], list[str]]


@pytest.mark.parametrize(
    ("command", "events", "said"),
    [
        (_rollup, 1, "ingested 1 segment (1 event, 1 day); rolled up 1 day; pruned 0 raw events"),
        (_rollup, 2, "ingested 1 segment (2 events, 1 day); rolled up 1 day; pruned 0 raw events"),
        (_prune, 1, "pruned 1 raw event older than 1 day"),
        (_prune, 3, "pruned 3 raw events older than 1 day"),
        (_export, 1, "exported 1 row of daily_totals to {root}/totals.csv"),
    ],
    ids=["rollup-1", "rollup-2", "prune-1", "prune-3", "export-1"],
)
def test_a_count_of_one_is_singular(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: Command,
    events: int,
    said: str,
) -> None:
    argv = command(tmp_path, events)
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (said.format(root=tmp_path) + "\n", "")
