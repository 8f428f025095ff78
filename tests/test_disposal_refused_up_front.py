"""A rollup that could not dispose of its ingested segments is refused before any work: the
CLI's `--delete-ingested` or `--archive` on a spool whose day folder this user may not
write (segments are removed from it), in one line, exit 2; and the library's
`Warehouse(archive=...)`, whose archive or spool this user cannot write, raises
`WarehouseError` from `run` before it opens the database (the check the CLI makes, one
function: `disposal_problem`). Before, the run ingested and committed, then failed every
deletion or move (the CLI's exit 3, on every run). Real processes as user 65534 (root may
write in read-only folders), a real DuckDB file."""

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

from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
from tests.support import ROOT, as_nobody
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 1)

LIBRARY_RUN = """
import sys
from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
archive = sys.argv[3]
try:
    Warehouse(sys.argv[2], archive=None if archive == "-" else archive).run(sys.argv[1])
except WarehouseError as error:
    print(error)
    sys.exit(2)
"""


@pytest.fixture
def base() -> Iterator[Path]:
    """A scratch folder user 65534 may write (tmp_path is private to root), with a spool of
    one day, all of it writable by anyone."""
    base = Path(tempfile.mkdtemp(prefix="cw-disposal-up-front-"))
    base.chmod(0o777)
    events = events_for_days(random.Random(166), [DAY], per_day=40)
    write_events(base / "spool", events, per_segment=20)
    for entry in (base / "spool").rglob("*"):
        entry.chmod(0o777 if entry.is_dir() else 0o666)
    (base / "spool").chmod(0o777)
    try:
        yield base
    finally:
        for folder in base.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(base)


def _segments(base: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted((base / "spool").rglob("*.parquet"))}


def _day_folder(base: Path) -> Path:
    return base / "spool" / f"day={DAY.isoformat()}"


def _as_nobody(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = None
    if os.geteuid() == 0:  # root writes in read-only folders: run as 65534
        argv, env = as_nobody(argv)
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _rollup(base: Path, *disposal: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "analytics", "rollup", "--spool", str(base / "spool")]
    return _as_nobody([*argv, "--db", str(base / "w.duckdb"), *disposal])


@pytest.mark.parametrize(
    ("disposal", "what"),
    [
        (["--delete-ingested"], "delete ingested segments from"),
        (["--archive", "{base}/archive"], "move ingested segments out of"),
    ],
    ids=["delete-ingested", "archive"],
)
def test_cli_refuses_a_spool_it_may_not_remove_segments_from(
    base: Path, disposal: list[str], what: str
) -> None:
    segments = _segments(base)
    _day_folder(base).chmod(0o555)
    run = _rollup(base, *(arg.format(base=base) for arg in disposal))
    day = str(_day_folder(base))
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        "",
        f"analytics: error: cannot {what} spool folder {day!r}: it is not writable for this user\n",
    )
    assert not (base / "w.duckdb").exists()  # before any work
    assert not (base / "archive").exists()
    assert _segments(base) == segments


def test_cli_deletes_from_a_spool_it_may_write(base: Path) -> None:
    # The control: the same user and spool, the day folder left writable.
    run = _rollup(base, "--delete-ingested")
    assert run.returncode == 0, run.stderr
    assert _segments(base) == {}
    assert "ingested 2 segments" in run.stdout


def test_library_refuses_an_archive_it_may_not_write(base: Path) -> None:
    segments = _segments(base)
    archive = base / "archive"
    archive.mkdir()
    archive.chmod(0o555)
    argv = [sys.executable, "-c", LIBRARY_RUN, str(base / "spool"), str(base / "w.duckdb")]
    run = _as_nobody([*argv, str(archive)])
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        f"archive {str(archive)!r} is not writable for this user\n",
        "",
    )
    assert not (base / "w.duckdb").exists()
    assert _segments(base) == segments


def test_library_refuses_a_spool_it_may_not_delete_from(base: Path) -> None:
    segments = _segments(base)
    _day_folder(base).chmod(0o555)
    argv = [sys.executable, "-c", LIBRARY_RUN, str(base / "spool"), str(base / "w.duckdb")]
    run = _as_nobody([*argv, "delete"])
    day = str(_day_folder(base))
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        f"cannot delete ingested segments from spool folder {day!r}: it is not writable "
        "for this user\n",
        "",
    )
    assert not (base / "w.duckdb").exists()
    assert _segments(base) == segments


def test_library_refuses_a_file_in_the_archives_path_before_any_work(base: Path) -> None:
    # In-process, as any user: a file where the archive's parent folder should be.
    segments = _segments(base)
    (base / "var").write_text("a file where a folder should be")
    archive = base / "var" / "archive"
    with pytest.raises(WarehouseError) as refused:
        Warehouse(base / "w.duckdb", archive=archive).run(base / "spool")
    assert str(refused.value) == (
        f"archive {str(archive)!r} cannot be made: {str(base / 'var')!r} is a file, not a folder"
    )
    assert not (base / "w.duckdb").exists()
    assert _segments(base) == segments


def test_library_run_without_disposal_reads_a_read_only_spool(base: Path) -> None:
    # The control: keeping the segments (archive=None) needs no write access to the spool.
    _day_folder(base).chmod(0o555)
    argv = [sys.executable, "-c", LIBRARY_RUN, str(base / "spool"), str(base / "w.duckdb")]
    run = _as_nobody([*argv, "-"])
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert len(_segments(base)) == 2


def test_a_damaged_segment_left_in_a_read_only_spool_is_not_said_quarantined(base: Path) -> None:
    """Walkthrough h240 F7: the summary said "quarantined 1 corrupt segments" while the
    warning said it was not moved ("[Errno 13] Permission denied: '…'"). Now the summary
    says where it is, the warning why in words, and the next run says it again."""
    damaged = min((base / "spool").rglob("*.parquet"))
    damaged.write_bytes(b"garbage")
    for folder in (base / "spool", _day_folder(base)):  # no quarantine/ made, nothing moved
        folder.chmod(0o555)
    left = "; 1 segment to quarantine could not be moved there (left in the spool, judged again"
    warned = (
        f"analytics: WARNING: corrupt segment {_day_folder(base).name}/{damaged.name} not "
        "moved to quarantine (Permission denied: 'quarantine'): "  # the folder it could not make
    )
    runs = [_rollup(base), _rollup(base)]
    for run, ingested in zip(runs, ("1 segment (20 events", "0 segments (0 events"), strict=True):
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith(f"ingested {ingested}")
        assert left in run.stdout
        assert "quarantined" not in run.stdout
        assert run.stderr.startswith(warned)
        assert run.stderr.count("\n") == 1
    assert damaged.read_bytes() == b"garbage"
