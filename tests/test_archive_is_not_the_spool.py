"""An archive that is the spool itself never costs a segment.

`rollup --archive S` with S the spool (spelled as it is, through a symbolic link, or as
`S/.`) moved every ingested segment "onto" its own name, found "an equal file already there"
and removed the spool's copy: every segment gone, exit 0. The configuration is now refused
before any work (CLI: one line, exit 2; library: ValueError), and a move onto a segment's own
entry, however it is reached (a `day=` folder of the archive that links into the spool), is
refused by the move itself: the segment stays, the run says it could not archive it.
An archive inside the spool, or a spool inside the archive, is fine: the spool lists only its
own `day=` folders, so archived segments are not read again.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.segment_moves import move_without_replacing
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
PER_SEGMENT = 12


def _spool(root: Path, segments: int = 3) -> tuple[Path, list[Path]]:
    spool = root / "spool"
    sealed = [
        write_segment(spool, DAY, to_table(events_for_days(random.Random(n), [DAY], PER_SEGMENT)))
        for n in range(segments)
    ]
    return spool, sealed


def _contents(paths: list[Path]) -> list[bytes]:
    return [path.read_bytes() for path in paths]


def _events(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])


def _archive_spelling(tmp_path: Path, spool: Path, how: str) -> Path:
    if how == "the same path":
        return spool
    if how == "a symbolic link to it":
        link = tmp_path / "spool-link"
        link.symlink_to(spool, target_is_directory=True)
        return link
    if how == "its own '.'":
        return spool / "."
    assert how == "a path through '..'"
    return spool / "day=2026-11-01" / ".."


SPELLINGS = ["the same path", "a symbolic link to it", "its own '.'", "a path through '..'"]


@pytest.mark.parametrize("how", SPELLINGS)
def test_rollup_refuses_an_archive_that_is_the_spool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    spool, sealed = _spool(tmp_path)
    before = _contents(sealed)
    archive = _archive_spelling(tmp_path, spool, how)
    db = tmp_path / "w.duckdb"

    code = main(["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)])

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"analytics: error: --archive {str(archive)!r} is the spool folder itself: ingested "
        "segments would be moved onto their own names; give another folder\n"
    )
    assert _contents(sealed) == before  # every segment still there, as it was
    assert not db.exists()  # refused before any work


@pytest.mark.parametrize("how", SPELLINGS)
def test_the_library_refuses_it_too(tmp_path: Path, how: str) -> None:
    spool, sealed = _spool(tmp_path)
    before = _contents(sealed)
    archive = _archive_spelling(tmp_path, spool, how)
    warehouse = Warehouse(tmp_path / "w.duckdb", archive=archive, clock=fixed_clock(NOW))

    with pytest.raises(ValueError, match=r"is the spool folder itself"):
        warehouse.run(spool)

    assert _contents(sealed) == before
    assert not (tmp_path / "w.duckdb").exists()


def test_an_archive_day_folder_linked_into_the_spool_keeps_the_segments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not the spool as a whole (so not refused up front), but each move lands on the
    # segment's own entry: the move refuses, the segment stays, the run says so (exit 3).
    spool, sealed = _spool(tmp_path)
    before = _contents(sealed)
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "day=2026-11-01").symlink_to(spool / "day=2026-11-01", target_is_directory=True)
    db = tmp_path / "w.duckdb"

    code = main(["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)])

    assert code == 3
    err = capsys.readouterr().err
    assert "could not move 3 ingested segments" in err
    assert "is the segment itself" in err
    assert _contents(sealed) == before
    assert _events(db) == 3 * PER_SEGMENT
    # The next run counts nothing twice and still loses nothing.
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)]) == 3
    assert _events(db) == 3 * PER_SEGMENT
    assert _contents(sealed) == before


def test_a_move_onto_its_own_entry_removes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "spool" / "day=2026-11-01" / "a.parquet"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"the only copy")
    (tmp_path / "alias").symlink_to(tmp_path / "spool", target_is_directory=True)

    for target in (
        source,
        tmp_path / "alias" / "day=2026-11-01" / "a.parquet",
        source.parent / ".." / "day=2026-11-01" / "a.parquet",
    ):
        with pytest.raises(OSError, match="is the segment itself"):
            move_without_replacing(source, target)
        assert source.read_bytes() == b"the only copy"


def test_a_symbolic_link_to_the_segment_is_no_copy_of_it(tmp_path: Path) -> None:
    source = tmp_path / "spool" / "a.parquet"
    source.parent.mkdir()
    source.write_bytes(b"the only copy")
    target = tmp_path / "archive" / "a.parquet"
    target.parent.mkdir()
    target.symlink_to(source)

    with pytest.raises(OSError, match="is the segment itself"):
        move_without_replacing(source, target)

    assert source.read_bytes() == b"the only copy"


def test_a_hard_link_elsewhere_is_a_real_copy(tmp_path: Path) -> None:
    # Another name of the same bytes: the spool's name may go, the archive's stays.
    source = tmp_path / "spool" / "a.parquet"
    source.parent.mkdir()
    source.write_bytes(b"events")
    target = tmp_path / "archive" / "a.parquet"
    target.parent.mkdir()
    os.link(source, target)

    moved = move_without_replacing(source, target)

    assert moved.already_there
    assert not source.exists()
    assert target.read_bytes() == b"events"


@pytest.mark.parametrize("layout", ["archive inside the spool", "spool inside the archive"])
def test_nested_archive_and_spool_are_fine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, layout: str
) -> None:
    spool, sealed = _spool(tmp_path)
    before = sorted(_contents(sealed))
    archive = spool / "archive" if layout == "archive inside the spool" else tmp_path
    warehouse = Warehouse(tmp_path / "w.duckdb", archive=archive, clock=fixed_clock(NOW))

    with caplog.at_level(logging.WARNING, logger="analytics"):
        first = warehouse.run(spool)
        second = warehouse.run(spool)

    assert first.ingest.segments == 3
    assert second.ingest.segments == 0  # archived segments are not read again
    assert _events(tmp_path / "w.duckdb") == 3 * PER_SEGMENT
    archived = sorted((archive / "day=2026-11-01").glob("*.parquet"))
    assert sorted(path.read_bytes() for path in archived) == before
    assert not any(path.exists() for path in sealed)
    assert not caplog.records


@pytest.mark.parametrize(
    "url", ["s3://analytics-bucket/example.com/spool", "file:///srv/archive", "file:/srv/archive"]
)
def test_an_archive_url_is_refused_not_made_a_local_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    # Path("s3://b/p") is the relative folder s3:/b/p: the segments would have gone there.
    spool, sealed = _spool(tmp_path)
    monkeypatch.chdir(tmp_path)

    code = main(["rollup", "--spool", str(spool), "--db", "w.duckdb", "--archive", url])

    assert code == 2
    assert capsys.readouterr().err == (
        f"analytics: error: --archive {url!r} is a URL, and the archive is a local folder: "
        "give its path\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spool"]
    assert all(path.exists() for path in sealed)
    with pytest.raises(ValueError, match="is a URL"):
        Warehouse(tmp_path / "w.duckdb", archive=url)


@pytest.mark.parametrize("made", [True, False], ids=["staging made", "first run"])
def test_an_archive_that_is_the_staging_folder_of_a_remote_spool_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], made: bool
) -> None:
    # Staged files in the ledger are removed by the next run's staging: an archive there
    # would be emptied. Refused before anything is listed or downloaded.
    db = tmp_path / "w.duckdb"
    staging = tmp_path / "w.duckdb.staging"
    if made:
        staging.mkdir()

    code = main(
        [
            "rollup",
            "--spool",
            "s3://analytics-bucket/example.com/spool",
            "--db",
            str(db),
            "--archive",
            str(staging),
        ]
    )

    assert code == 2
    assert capsys.readouterr().err == (
        f"analytics: error: --archive {str(staging)!r} is the staging folder of the remote "
        "spool: staged segments are removed once ingested; give another folder\n"
    )
    assert not db.exists()
