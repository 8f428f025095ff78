"""The ingest ledger knows a segment by its content: a copy under another name, or arriving twice
in one run, counts once, segments of equal events sealed apart both count, and ledgers written
before content ids keep working.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    seeded_spool,
    table_rows,
    tally,
)

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)


def _ledger(db: Path) -> list[tuple[str, int, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT name, events, duplicate_of FROM ingested_segments ORDER BY name"
        ).fetchall()
    finally:
        con.close()


def _copy_renamed(
    segment: Path, folder: Path | None = None, name: str = "restored.parquet"
) -> Path:
    target = (folder or segment.parent) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(segment, target)
    return target


@pytest.mark.parametrize(
    ("where", "archive"),
    [
        ("same day folder, new name", None),
        ("same day folder, new name", "delete"),
        ("same day folder, new name", "folder"),
        ("another day folder", None),
        ("another day folder", "delete"),
        ("another day folder", "folder"),
        ("renamed in place", None),  # only a spool that keeps its segments has one to rename
    ],
)
def test_a_segment_under_another_name_is_not_counted_twice(
    tmp_path: Path, where: str, archive: str | None
) -> None:
    # Before, the ledger knew segments by file name only: an operator restoring a backup of a
    # sealed segment under another name (or moving it to another day folder) had its events
    # ingested a second time, doubling that day's pageviews.
    spool, events = seeded_spool(tmp_path, FIRST, seed=31)
    db = tmp_path / "w.duckdb"
    keep = tmp_path / "backup"
    shutil.copytree(spool, keep)
    disposal = tmp_path / "archive" if archive == "folder" else archive
    warehouse = Warehouse(db, clock=fixed_clock(NOW), archive=disposal)
    warehouse.run(spool)
    expected = tally(events)
    original = sorted(keep.rglob("*.parquet"))[0]
    if where == "same day folder, new name":
        _copy_renamed(original, spool / original.parent.name)
    elif where == "another day folder":
        _copy_renamed(original, spool / "day=2026-10-05")
    else:
        (kept,) = [seg for seg in list_segments(spool) if seg.path.name == original.name]
        kept.path.rename(kept.path.with_name("renamed.parquet"))
    result = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    assert result.ingest.events == 0
    assert result.ingest.segments == 0
    assert len(result.ingest.duplicates) == 1
    assert "same content" in result.summary()
    for table, rows in expected.items():
        assert table_rows(db, table) == rows, table
    ledger = _ledger(db)
    assert sum(events for _, events, _ in ledger) == len(events)
    (duplicate,) = [row for row in ledger if row[2] is not None]
    assert duplicate[1] == 0
    # A third run neither reads it again nor complains again.
    again = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    assert again.ingest.duplicates == ()


def test_two_copies_arriving_in_the_same_run_count_once(tmp_path: Path) -> None:
    spool, events = seeded_spool(tmp_path, FIRST, seed=32, days=1)
    first = sorted(spool.rglob("*.parquet"))[0]
    _copy_renamed(first, name="zz-copy-1.parquet")
    _copy_renamed(first, spool / "day=2026-10-09", name="zz-copy-2.parquet")
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(events)
    assert len(result.ingest.duplicates) == 2
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table


def test_segments_sealed_apart_with_equal_events_are_both_counted(tmp_path: Path) -> None:
    # Content identity must not swallow real traffic: two flushes of equal events (a replay,
    # a synthetic load, two workers' identical hits) are two segments. Each names itself in
    # its own metadata when sealed, so only a copy of the same file has the same footer.
    events = events_for_days(random.Random(33), [FIRST], per_day=40)
    spool = tmp_path / "spool"
    for _ in range(2):
        write_segment(spool, FIRST, to_table(events))
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == 2 * len(events)
    assert result.ingest.duplicates == ()
    assert table_rows(db, "daily_totals") == {
        (day, site, 2 * pageviews, visitors, 2 * bots)
        for day, site, pageviews, visitors, bots in tally(events)["daily_totals"]
    }


def test_a_copy_of_a_segment_with_damaged_pages_goes_to_quarantine_with_it(tmp_path: Path) -> None:
    # The footer reads fine, the pages do not: the run finds the culprit by reading each
    # segment in full. Its copy (set aside unread as a copy) is as damaged: it must not be
    # recorded as "ingested" under the name of a segment that never was.
    spool, events = seeded_spool(tmp_path, FIRST, seed=39, days=1)
    victim = sorted(spool.rglob("*.parquet"))[0]
    data = bytearray(victim.read_bytes())
    for i in range(200, 900):
        data[i] = (data[i] * 7 + 13) % 256
    victim.write_bytes(bytes(data))
    copy = _copy_renamed(victim, name="zz-copy.parquet")
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    quarantined = {f"{victim.parent.name}/{victim.name}", f"{copy.parent.name}/{copy.name}"}
    assert set(result.ingest.quarantined) == quarantined
    assert result.ingest.duplicates == ()
    assert {name for name, _, _ in _ledger(db)}.isdisjoint(quarantined)
    assert not copy.exists()
    assert (spool / "quarantine" / copy.parent.name / copy.name).is_file()
    assert result.ingest.events == len(events) - 20


def test_a_ledger_from_before_content_ids_keeps_working(tmp_path: Path) -> None:
    # A database written by the previous version has no content columns: the run adds them
    # and carries on; its old segments are still skipped by name.
    spool, events = seeded_spool(tmp_path, FIRST, seed=34, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    con = duckdb.connect(str(db))
    try:
        con.execute("ALTER TABLE ingested_segments DROP COLUMN duplicate_of")
        con.execute("ALTER TABLE ingested_segments DROP COLUMN content_id")
    finally:
        con.close()
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.segments == 0
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0


def _ledger_by_name(db: Path) -> dict[str, tuple[int, str | None, str | None]]:
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
    spool, events = seeded_spool(tmp_path, FIRST, seed=61)
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
    ledger = _ledger_by_name(db)
    original_name = f"{original.parent.name}/{original.name}"
    events_of_copy, copy_id, duplicate_of = ledger[f"{target.name}/restored.parquet"]
    assert (events_of_copy, duplicate_of) == (0, original_name)
    # The old row got its content id in the same run, so the next copy is known at once.
    assert ledger[original_name][1] == copy_id is not None


def test_an_old_ledger_row_is_filled_in_with_the_id_a_fresh_ingest_records(tmp_path: Path) -> None:
    spool, _ = seeded_spool(tmp_path, FIRST, seed=62, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    fresh_ids = {name: row[1] for name, row in _ledger_by_name(db).items()}
    _make_ledger_old(db, "content ids null")
    original = list_segments(spool)[0]
    shutil.copy2(original.path, original.path.with_name("restored.parquet"))
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert _ledger_by_name(db)[original.name][1] == fresh_ids[original.name]


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
    spool, _ = seeded_spool(tmp_path, FIRST, seed=64, days=1)
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
    assert _ledger_by_name(db)[original.name][1] is None
