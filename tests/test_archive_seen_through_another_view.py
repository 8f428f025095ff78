"""An archive that is the spool seen through a view giving its files other identities never
costs a segment.

A FUSE passthrough (bindfs, here for real) or an NFS share mounted twice with other options
shows one folder at two paths whose files have another device number: `os.path.samefile`
says "not the same". `rollup --archive <view of the spool>` then found each segment
"already there, byte for byte" under its own name and removed the spool's copy, which was
that very file: every ingested segment gone, exit 0. The archive is now probed (a hidden file
made in it, looked for in the spool) and refused before any work; a move onto the segment's
own entry seen through such a view (an archive `day=` folder that is a view of the spool's)
sets the segment aside, finds the "copy" gone with it, and puts it back: the segment stays.
Needs bindfs and /dev/fuse (skipped without).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.segment_moves import move_without_replacing
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
# Mounts a view of a folder (first) at a new path (second); returns the latter.
Mount = Callable[[Path, Path], Path]


@pytest.fixture
def view_of(tmp_path: Path) -> Iterator[Mount]:
    """Mounts a bindfs view of a folder at another path; unmounts them all at the end."""
    if shutil.which("bindfs") is None or not Path("/dev/fuse").exists():
        pytest.skip("needs bindfs and /dev/fuse")
    mounted: list[Path] = []

    def mount(folder: Path, at: Path) -> Path:
        at.mkdir(parents=True)
        done = subprocess.run(["bindfs", str(folder), str(at)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"bindfs cannot mount here: {done.stderr.decode().strip()}")
        mounted.append(at)
        assert at.stat().st_dev != folder.stat().st_dev  # what samefile cannot see through
        return at

    yield mount
    for at in reversed(mounted):
        subprocess.run(["fusermount", "-u", str(at)], check=False)


def _spool(tmp_path: Path, segments: int = 3) -> tuple[Path, dict[Path, bytes]]:
    spool = tmp_path / "real" / "spool"
    sealed = [
        write_segment(spool, DAY, to_table(events_for_days(random.Random(n), [DAY], 12)))
        for n in range(segments)
    ]
    return spool, {path: path.read_bytes() for path in sealed}


def _intact(contents: dict[Path, bytes]) -> bool:
    return all(path.read_bytes() == data for path, data in contents.items())


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_move_onto_the_segment_itself_through_a_view_is_refused(
    tmp_path: Path, view_of: Mount
) -> None:
    _, contents = _spool(tmp_path, 1)
    (segment,) = contents
    view = view_of(tmp_path / "real", tmp_path / "view")
    seen = view / "spool" / segment.parent.name / segment.name
    assert seen.read_bytes() == contents[segment]

    with pytest.raises(OSError, match="is the segment itself"):
        move_without_replacing(segment, seen)

    assert _intact(contents)
    assert _entries(segment.parent) == [segment.name]  # nothing set aside is left


def test_the_run_refuses_an_archive_that_is_a_view_of_the_spool(
    tmp_path: Path, view_of: Mount
) -> None:
    spool, contents = _spool(tmp_path)
    view = view_of(tmp_path / "real", tmp_path / "view")
    warehouse = Warehouse(tmp_path / "w.duckdb", archive=view / "spool", clock=fixed_clock(NOW))

    with pytest.raises(ValueError, match="is the spool folder itself"):
        warehouse.run(spool)

    assert _intact(contents)
    assert not (tmp_path / "w.duckdb").exists()  # before any work
    assert _entries(spool) == ["day=2026-11-01"]  # the probe's file is gone


def test_the_cli_refuses_it_in_one_line(
    tmp_path: Path, view_of: Mount, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, contents = _spool(tmp_path)
    view = view_of(tmp_path / "real", tmp_path / "view")
    archive = str(view / "spool")

    code = main(
        ["rollup", "--spool", str(spool), "--db", str(tmp_path / "w.duckdb"), "--archive", archive]
    )

    assert code == 2
    assert capsys.readouterr().err == (
        f"analytics: error: --archive {archive!r} is the spool folder itself: ingested "
        "segments would be moved onto their own names; give another folder\n"
    )
    assert _intact(contents)


def test_an_archive_day_folder_that_is_a_view_of_the_spools_keeps_every_segment(
    tmp_path: Path, view_of: Mount
) -> None:
    # Not the same folder as the spool (no up-front refusal): each move finds its own file.
    spool, contents = _spool(tmp_path)
    archive = tmp_path / "archive"
    view_of(spool / "day=2026-11-01", archive / "day=2026-11-01")
    warehouse = Warehouse(tmp_path / "w.duckdb", archive=archive, clock=fixed_clock(NOW))

    result = warehouse.run(spool)

    assert result.ingest.segments == 3
    assert len(result.ingest.undisposed) == 3  # the CLI's exit 3: said, not silent
    assert _intact(contents)
    assert _entries(spool / "day=2026-11-01") == sorted(p.name for p in contents)
    # The next run ingests nothing twice and still loses nothing.
    again = warehouse.run(spool)
    assert again.ingest.segments == 0
    assert _intact(contents)


def test_a_real_copy_already_in_the_archive_still_lets_the_spools_go(tmp_path: Path) -> None:
    # Control: another file of equal bytes is a second copy; the spool's goes, nothing else.
    _, contents = _spool(tmp_path, 1)
    (segment,) = contents
    copy = tmp_path / "archive" / segment.parent.name / segment.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(contents[segment])

    moved = move_without_replacing(segment, copy)

    assert moved.already_there
    assert not segment.exists()
    assert copy.read_bytes() == contents[segment]
    assert _entries(segment.parent) == []


def test_a_set_aside_file_left_by_a_crash_is_never_replaced(tmp_path: Path) -> None:
    # A run killed while checking left `.set-aside-<name>.partial`: perhaps the only copy.
    _, contents = _spool(tmp_path, 1)
    (segment,) = contents
    left = segment.with_name(f".set-aside-{segment.name}.partial")
    left.write_bytes(b"the only copy of something")
    copy = tmp_path / "archive" / segment.parent.name / segment.name
    copy.parent.mkdir(parents=True)
    copy.write_bytes(contents[segment])

    with pytest.raises(FileExistsError):
        move_without_replacing(segment, copy)

    assert _intact(contents)
    assert left.read_bytes() == b"the only copy of something"
