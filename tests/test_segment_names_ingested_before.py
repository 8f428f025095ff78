"""A segment under a name the ledger already holds, and moves that would replace a file.

A segment rewritten or re-sealed under a name that was ingested is never read (the ledger
knows the name): it is moved to quarantine with a one-line warning instead of being left,
archived over the archived original or deleted. Moving a segment to the archive or to
quarantine never replaces a file there: an equal file makes the spool's copy redundant,
another file keeps its place and the segment goes beside it as `<stem>.2.parquet`.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.event import to_table
from analytics.segment_moves import move_without_replacing
from analytics.spool import write_segment
from analytics.warehouse import Archive, RunResult, Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _seal(spool: Path, events: int, seed: int) -> Path:
    table = to_table(events_for_days(random.Random(seed), [DAY], events))
    return write_segment(spool, DAY, table)


def _run(tmp_path: Path, archive: Archive) -> RunResult:
    return Warehouse(tmp_path / "w.duckdb", archive=archive, clock=fixed_clock(NOW)).run(
        tmp_path / "spool"
    )


def _events(tmp_path: Path) -> int:
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])


def _rows(path: Path) -> int:
    return int(pq.read_metadata(path).num_rows)


def _archive_of(tmp_path: Path, mode: str) -> Archive:
    return {"kept": None, "deleted": "delete", "archived": tmp_path / "archive"}[mode]


@pytest.mark.parametrize("mode", ["kept", "deleted", "archived"])
@pytest.mark.parametrize("how", ["rewritten in place", "re-sealed under its name"])
def test_other_content_under_an_ingested_name_is_quarantined(
    tmp_path: Path, mode: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    first = _seal(spool, 10, seed=1)
    name = first.relative_to(spool).as_posix()
    original = first.read_bytes()
    _run(tmp_path, _archive_of(tmp_path, mode))
    other = _seal(tmp_path / "elsewhere", 25, seed=2)
    if how == "rewritten in place":
        first.parent.mkdir(parents=True, exist_ok=True)
        first.write_bytes(other.read_bytes())
    else:
        first.parent.mkdir(parents=True, exist_ok=True)
        os.replace(other, first)

    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = _run(tmp_path, _archive_of(tmp_path, mode))

    assert result.ingest.reused_names == (name,)
    assert name in result.ingest.quarantined
    assert "1 segment whose name was ingested before with other content" in result.summary()
    assert "corrupt" not in result.summary()
    assert _rows(spool / "quarantine" / name) == 25
    assert not first.exists()
    assert _events(tmp_path) == 10  # the 25 are not counted under the old name
    if mode == "archived":
        assert (tmp_path / "archive" / name).read_bytes() == original
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(name in w and "ingested before" in w for w in warnings), warnings


@pytest.mark.parametrize("mode", ["kept", "archived"])
def test_the_ingested_segment_itself_is_not_quarantined(tmp_path: Path, mode: str) -> None:
    spool = tmp_path / "spool"
    first = _seal(spool, 10, seed=1)
    _run(tmp_path, None)
    result = _run(tmp_path, _archive_of(tmp_path, mode))
    assert result.ingest.quarantined == ()
    assert result.ingest.reused_names == ()
    assert first.exists() == (mode == "kept")


def test_an_archive_file_of_that_name_is_never_replaced(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    first = _seal(spool, 10, seed=1)
    name = first.relative_to(spool).as_posix()
    _run(tmp_path, None)  # ingested, left in the spool
    squatter = tmp_path / "archive" / name
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"someone else's file")

    result = _run(tmp_path, tmp_path / "archive")

    assert squatter.read_bytes() == b"someone else's file"
    beside = squatter.with_name(f"{squatter.stem}.2.parquet")
    assert beside.read_bytes() != b""
    assert _rows(beside) == 10
    assert not first.exists()
    assert result.ingest.archived_renamed == (beside.relative_to(tmp_path / "archive").as_posix(),)
    assert "1 ingested segment archived under another name" in result.summary()
    assert result.ingest.undisposed == ()


def test_an_equal_file_in_the_archive_is_kept_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    first = _seal(spool, 10, seed=1)
    name = first.relative_to(spool).as_posix()
    _run(tmp_path, tmp_path / "archive")
    # A backup of the spool restored: the archived segment is back under its own name.
    shutil.copy2(tmp_path / "archive" / name, first)

    result = _run(tmp_path, tmp_path / "archive")

    assert not first.exists()
    assert sorted(p.name for p in (tmp_path / "archive").rglob("*.parquet")) == [first.name]
    assert result.ingest.quarantined == ()
    assert result.ingest.archived_renamed == ()
    assert _events(tmp_path) == 10


def test_quarantine_keeps_an_earlier_quarantined_file_of_the_same_name(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    first = _seal(spool, 10, seed=1)
    name = first.relative_to(spool).as_posix()
    _run(tmp_path, None)
    for seed, events in ((2, 25), (3, 7)):
        other = _seal(tmp_path / "elsewhere", events, seed=seed)
        os.replace(other, first)
        _run(tmp_path, None)
    quarantined = spool / "quarantine" / name
    assert _rows(quarantined) == 25
    assert _rows(quarantined.with_name(f"{quarantined.stem}.2.parquet")) == 7


@pytest.mark.parametrize("taken", [0, 1, 3])
def test_move_picks_the_first_free_name(tmp_path: Path, taken: int) -> None:
    source = tmp_path / "spool" / "a.parquet"
    source.parent.mkdir()
    source.write_bytes(b"new")
    target = tmp_path / "archive" / "a.parquet"
    target.parent.mkdir()
    names = ["a.parquet", *(f"a.{n}.parquet" for n in range(2, 10))]
    for taken_name in names[:taken]:
        (target.parent / taken_name).write_bytes(b"old " + taken_name.encode())
    moved = move_without_replacing(source, target)
    assert moved.path == target.parent / names[taken]
    assert moved.renamed == (taken > 0)
    assert not moved.already_there
    assert moved.path.read_bytes() == b"new"
    assert not source.exists()
    for taken_name in names[:taken]:
        assert (target.parent / taken_name).read_bytes() == b"old " + taken_name.encode()


def test_move_to_another_filesystem_never_replaces(tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem of its own")
    source = tmp_path / "a.parquet"
    source.write_bytes(b"new")
    folder = Path(f"/dev/shm/cookiewall-moves-{os.getpid()}")
    try:
        folder.mkdir()
        (folder / "a.parquet").write_bytes(b"old")
        moved = move_without_replacing(source, folder / "a.parquet")
        assert moved.path == folder / "a.2.parquet"
        assert moved.renamed
        assert (folder / "a.parquet").read_bytes() == b"old"
        assert moved.path.read_bytes() == b"new"
        assert not source.exists()
        assert sorted(p.name for p in folder.iterdir()) == ["a.2.parquet", "a.parquet"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_move_of_a_segment_gone_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        move_without_replacing(tmp_path / "gone.parquet", tmp_path / "archive" / "gone.parquet")
