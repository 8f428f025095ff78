"""`analytics rollup --archive` with an archive it cannot write still commits, warns in one
line and exits 3 (on every later run too, counting nothing twice); once the archive works the
segments move and it exits 0."""

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
from tests.warehouse_support import events_for_days, table_rows, write_events


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ARCHIVE_DAYS = [date(2026, 11, 1), date(2026, 11, 2)]


def _spool(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(6), ARCHIVE_DAYS, per_day=40)
    write_events(spool, events, per_segment=20)
    return spool


def _segments(spool: Path) -> list[Path]:
    return sorted(spool.glob("day=*/*.parquet"))


def _blocked_archive(base: Path, how: str) -> Path:
    # An archive that is itself a file or read-only is refused before any work (exit 2,
    # tests/test_cli_archive_refused_up_front.py): here its day folders are, so the moves
    # fail after COMMIT.
    archive = base / "archive"
    archive.mkdir()
    archive.chmod(0o777)  # the CLI runs as user 65534 under root
    for day in ARCHIVE_DAYS:
        folder = archive / f"day={day.isoformat()}"
        if how == "a file in its place":
            folder.write_text("not a folder")
        else:
            folder.mkdir()
            folder.chmod(0o555)  # for everyone: the CLI runs as user 65534 under root
    return archive


@pytest.fixture
def shared_base(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder user 65534 may write (tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="cw-archive-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        for folder in base.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("how", ["a file in its place", "a read-only folder"])
def test_rollup_with_an_archive_it_cannot_write_commits_and_exits_3(
    shared_base: Path, how: str
) -> None:
    # Root writes in a read-only folder: as root, the CLI runs as user 65534 instead.
    as_user = how == "a read-only folder" and os.geteuid() == 0
    spool = _spool(shared_base)
    for entry in spool.rglob("*"):  # that user moves the segments out of the spool
        entry.chmod(0o777 if entry.is_dir() else 0o666)
    spool.chmod(0o777)
    segments = _segments(spool)
    db = shared_base / "analytics.duckdb"
    archive = _blocked_archive(shared_base, how)
    args = ("rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive))

    def cli() -> subprocess.CompletedProcess[str]:
        if not as_user:
            return _cli(*args)
        command, env = as_nobody([sys.executable, "-m", "analytics", *args])
        return subprocess.run(
            command, cwd=shared_base, env=env, capture_output=True, text=True, timeout=60
        )

    try:
        first = cli()
        # Committed: the rollups hold both days, the summary line says what was done.
        assert first.returncode == 3, first.stderr
        assert {row[0] for row in table_rows(db, "daily_totals")} == set(ARCHIVE_DAYS)
        assert first.stdout.startswith(f"ingested {len(segments)} segments")
        assert f"{len(segments)} ingested segments could not be archived" in first.stdout
        # One warning line for the lot, not one per segment, and no traceback.
        warnings = first.stderr.splitlines()
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith(
            f"analytics: WARNING: could not move {len(segments)} ingested segments to "
            f"{str(archive)!r} (first: day="
        )
        assert _segments(spool) == segments
        # Every later run says so again (cron keeps hearing it) without counting anything twice.
        again = cli()
        assert again.returncode == 3
        assert again.stdout.startswith("ingested 0 segments")
        assert {row[0] for row in table_rows(db, "daily_totals")} == set(ARCHIVE_DAYS)
    finally:
        for folder in archive.iterdir():
            if folder.is_dir():
                folder.chmod(0o777)
    # Once the archive works, the segments move and the exit code is 0 again.
    for entry in archive.iterdir():
        if entry.is_file():
            entry.unlink()
    fixed = cli()
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stderr == ""
    assert _segments(spool) == []
    assert len(list(archive.glob("day=*/*.parquet"))) == len(segments)


def test_rollup_whose_archive_works_exits_0(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    db = tmp_path / "analytics.duckdb"
    done = _cli("rollup", "--spool", str(spool), "--db", str(db), "--archive", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert "could not" not in done.stdout + done.stderr
