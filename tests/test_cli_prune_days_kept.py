"""`--raw-days N` keeps today and the N days before it (N + 1 days), and deletes what is older:
`--help` says so. Before, `prune --help` said "keep the raw events of the last N days", and
`--raw-days 1` kept yesterday too."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import build_parser, main
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, write_events

SAID = "delete raw events older than N days (today and the N days before are kept"


@pytest.mark.parametrize("command", ["prune", "rollup"])
def test_help_says_which_days_raw_days_keeps(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert SAID in shown
    assert "the last N days" not in shown


def test_raw_days_1_keeps_today_and_yesterday(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=back) for back in (3, 2, 1)]  # today's events: none yet
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    write_events(spool, events_for_days(random.Random(5), days, per_day=10), per_segment=10)
    Warehouse(db).run(spool)
    assert main(["prune", "--db", str(db), "--raw-days", "1", "--quiet"]) == 0
    if datetime.now(UTC).date() != today:
        pytest.skip("midnight (UTC) passed during the test")
    with duckdb.connect(str(db), read_only=True) as con:
        kept = {row[0] for row in con.execute("SELECT DISTINCT day FROM events").fetchall()}
    # Older than 1 day: the day before yesterday and before; yesterday stays.
    assert kept == {today - timedelta(days=1)}
