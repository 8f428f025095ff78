"""`analytics rollup --archive DIR` that this user cannot make or write (a file in its place or
in its path, a read-only folder or parent) is refused before any work: one line, exit 2, no
database made, the spool as it was. Before, the run ingested everything, committed, and then
failed to move each segment (exit 3, on every run), as `--output` is refused up front."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.support import ROOT, as_nobody
from tests.warehouse_support import events_for_days, write_events


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A scratch folder user 65534 may write (tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="cw-archive-up-front-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        for folder in base.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(base)


def _spool(base: Path) -> dict[Path, bytes]:
    events = events_for_days(random.Random(16), [date(2026, 11, 1)], per_day=40)
    write_events(base / "spool", events, per_segment=20)
    for entry in (base / "spool").rglob("*"):
        entry.chmod(0o777 if entry.is_dir() else 0o666)
    (base / "spool").chmod(0o777)
    return {path: path.read_bytes() for path in sorted((base / "spool").rglob("*.parquet"))}


def _rollup(base: Path, archive: Path, *, as_user: bool) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "analytics", "rollup", "--spool", str(base / "spool")]
    argv += ["--db", str(base / "w.duckdb"), "--archive", str(archive)]
    env = None
    if as_user and os.geteuid() == 0:  # root writes in read-only folders: run as 65534
        argv, env = as_nobody(argv)
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _file_in_place(base: Path) -> tuple[Path, str]:
    archive = base / "archive"
    archive.write_text("a file where the archive folder should be")
    return archive, f"{str(archive)!r} is a file, not a folder"


def _file_in_path(base: Path) -> tuple[Path, str]:
    (base / "var").write_text("a file where a folder should be")
    archive = base / "var" / "archive"
    return (
        archive,
        f"{str(archive)!r} cannot be made: {str(base / 'var')!r} is a file, not a folder",
    )


def _read_only(base: Path) -> tuple[Path, str]:
    archive = base / "archive"
    archive.mkdir()
    archive.chmod(0o555)
    return archive, f"{str(archive)!r} is not writable for this user"


def _read_only_parent(base: Path) -> tuple[Path, str]:
    (base / "var").mkdir()
    (base / "var").chmod(0o555)
    archive = base / "var" / "archive" / "2026"
    return archive, (
        f"{str(archive)!r} cannot be made: folder {str(base / 'var')!r} is not writable "
        "for this user"
    )


CASES = {
    "a file in its place": (_file_in_place, False),
    "a file in its path": (_file_in_path, False),
    "a read-only folder": (_read_only, True),
    "a missing folder in a read-only one": (_read_only_parent, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_archive_that_cannot_be_written_is_refused_before_any_work(
    shared_base: Path, case: str
) -> None:
    make, as_user = CASES[case]
    spool = _spool(shared_base)
    archive, why = make(shared_base)
    run = _rollup(shared_base, archive, as_user=as_user)
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        "",
        f"analytics: error: --archive {why}\n",
    )
    assert not (shared_base / "w.duckdb").exists()  # before any work
    assert {path: path.read_bytes() for path in spool} == spool


def test_an_archive_that_can_be_made_is_made_and_receives_the_segments(shared_base: Path) -> None:
    # The control: a missing archive (and missing parents) in a folder the user may write.
    spool = _spool(shared_base)
    archive = shared_base / "var" / "archive"
    run = _rollup(shared_base, archive, as_user=True)
    assert run.returncode == 0, run.stderr
    assert len(list(archive.rglob("*.parquet"))) == len(spool)
