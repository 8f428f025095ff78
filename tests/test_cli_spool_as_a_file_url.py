"""`rollup --spool file:///abs/path` (the spelling the Spark engine takes, as does Hadoop's
`file:/abs/path`) is the local folder /abs/path. Before, the DuckDB rollup took the URL for a
relative folder: "spool folder 'file:/abs/path' does not exist or is not a folder", exit 2.
A file: URL that names another machine is refused in one line."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from analytics.cli import main
from tests.cli_support import event_count
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 1)
EVENTS = 30


@pytest.mark.parametrize("url", ["file://{spool}", "file://localhost{spool}", "file:{spool}"])
def test_a_file_url_is_the_local_spool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    write_events(spool, events_for_days(random.Random(2), [DAY], per_day=EVENTS))
    argv = ["rollup", "--spool", url.format(spool=spool), "--db", str(db), "--raw-days", "36500"]
    assert main([*argv, "--delete-ingested"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"ingested 1 segment ({EVENTS} events, 1 day)")
    assert event_count(db) == EVENTS
    assert not list(spool.rglob("*.parquet"))  # disposed of there too


def test_a_file_url_of_another_machine_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.duckdb"
    url = f"file://fileserver{tmp_path}/spool"
    assert main(["rollup", "--spool", url, "--db", str(db)]) == 2
    assert capsys.readouterr() == (
        "",
        f"analytics: error: --spool {url!r} names a folder on another machine; "
        "give a local folder's path\n",
    )
    assert not db.exists()
