"""Sixth review of the warehouse and the CLI: each test pins a bug that was found and fixed
(the comment says what happened before), on real DuckDB files and real subprocesses."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.event import Event, to_table
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    table_rows,
    tally,
    write_events,
)

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)


def _spool(root: Path, seed: int, days: int = 2, per_day: int = 30) -> tuple[Path, list[Event]]:
    spool = root / "spool"
    events = events_for_days(
        random.Random(seed), [FIRST + timedelta(days=i) for i in range(days)], per_day
    )
    write_events(spool, events, per_segment=20)
    return spool, events


def _ledger(db: Path) -> dict[str, tuple[int, str | None, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT name, events, content_id, duplicate_of FROM ingested_segments"
        ).fetchall()
    finally:
        con.close()
    return {
        name: (events, content_id, duplicate_of) for name, events, content_id, duplicate_of in rows
    }


def _make_ledger_old(db: Path, how: str) -> None:
    """Make `db`'s ledger look written by a version from before content ids."""
    con = duckdb.connect(str(db))
    try:
        if how == "columns dropped":
            con.execute("ALTER TABLE ingested_segments DROP COLUMN duplicate_of")
            con.execute("ALTER TABLE ingested_segments DROP COLUMN content_id")
        else:
            con.execute("UPDATE ingested_segments SET content_id = NULL")
    finally:
        con.close()


# -- 1. copies of segments ingested before content ids existed --------------------------------


@pytest.mark.parametrize("how", ["columns dropped", "content ids null"])
@pytest.mark.parametrize(
    ("where", "archive"),
    [
        ("same day folder, new name", None),
        ("another day folder", None),
        ("same day folder, new name", "folder"),
        ("another day folder", "folder"),
    ],
)
def test_a_copy_of_a_segment_ingested_by_an_older_version_is_not_counted_twice(
    tmp_path: Path, how: str, where: str, archive: str | None
) -> None:
    # Before: ledger rows from before content ids had none, so a copy of such a segment
    # (still in the spool, or in the archive folder) under another name matched nothing and
    # its events were counted a second time.
    spool, events = _spool(tmp_path, seed=61)
    db = tmp_path / "w.duckdb"
    disposal = tmp_path / "archive" if archive == "folder" else None
    Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    _make_ledger_old(db, how)
    kept = disposal if disposal is not None else spool
    original = sorted(kept.rglob("*.parquet"))[0]
    target = spool / (original.parent.name if where.startswith("same") else "day=2026-10-05")
    target.mkdir(parents=True, exist_ok=True)
    copy = target / "restored.parquet"
    shutil.copy2(original, copy)

    result = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)

    assert result.ingest.events == 0
    assert result.ingest.duplicates == (f"{target.name}/restored.parquet",)
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table
    ledger = _ledger(db)
    original_name = f"{original.parent.name}/{original.name}"
    events_of_copy, copy_id, duplicate_of = ledger[f"{target.name}/restored.parquet"]
    assert (events_of_copy, duplicate_of) == (0, original_name)
    # The old row got its content id in the same run, so the next copy is known at once.
    assert ledger[original_name][1] == copy_id is not None


def test_an_old_ledger_row_is_filled_in_with_the_id_a_fresh_ingest_records(tmp_path: Path) -> None:
    spool, _ = _spool(tmp_path, seed=62, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    fresh_ids = {name: row[1] for name, row in _ledger(db).items()}
    _make_ledger_old(db, "content ids null")
    original = list_segments(spool)[0]
    shutil.copy2(original.path, original.path.with_name("restored.parquet"))
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert _ledger(db)[original.name][1] == fresh_ids[original.name]


def test_a_new_segment_of_equal_events_next_to_an_old_one_is_still_counted(
    tmp_path: Path,
) -> None:
    # Filling in old content ids must not swallow real traffic: a flush of the same events
    # sealed apart (same row count, same values) is another segment.
    events = events_for_days(random.Random(63), [FIRST], per_day=25)
    spool = tmp_path / "spool"
    write_segment(spool, FIRST, to_table(events))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    _make_ledger_old(db, "content ids null")
    write_segment(spool, FIRST, to_table(events))
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(events)
    assert result.ingest.duplicates == ()


def test_an_old_row_whose_file_now_holds_other_events_is_not_trusted(tmp_path: Path) -> None:
    # The file under an old ledger name is trusted as what was ingested only if it still
    # holds as many rows as the ledger says: a file replaced under that name must not make a
    # copy of it (never counted) pass for a duplicate.
    spool, _ = _spool(tmp_path, seed=64, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    _make_ledger_old(db, "content ids null")
    original = list_segments(spool)[0]
    other = events_for_days(random.Random(65), [FIRST], per_day=7)
    other_spool = tmp_path / "other"
    write_segment(other_spool, FIRST, to_table(other))
    replacement = list_segments(other_spool)[0].path
    shutil.copy2(replacement, original.path)
    shutil.copy2(replacement, original.path.with_name("restored.parquet"))
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(other)
    assert result.ingest.duplicates == ()
    assert _ledger(db)[original.name][1] is None
