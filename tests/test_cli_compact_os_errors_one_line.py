"""`analytics compact` on a system that says no before the rename (its commit point): one line,
exit 2, the warehouse byte for byte as it was, never a traceback.

Before, an OSError raised before the rename reached the user as a traceback (twice over: the
clean-up after the failure raised it again): a folder where the copy or its journal goes
(`IsADirectoryError`), a copy left by another user's run in a sticky folder that this user
may not remove (`PermissionError`), a failing `statvfs` of the folder. A disk that filled
during the copy was one line, but DuckDB's reason for a failed checkpoint at DETACH is on its
second line: "CHECKPOINT during DETACH failed." said nothing of the full disk.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import analytics.compact
from analytics.cli import main
from analytics.compact import temporary_path
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.disk_support import mounted_tmpfs
from tests.support import NOBODY, ROOT, as_nobody
from tests.warehouse_support import events_for_days, fixed_clock, write_events

DAYS = (date(2026, 11, 1), date(2026, 11, 20))
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def _pruned_warehouse(folder: Path) -> Path:
    """`folder/w.duckdb`: two days of 400 events rolled up, the first pruned (about 4 MiB)."""
    write_events(folder / "spool", events_for_days(random.Random(242), DAYS, 400))
    warehouse = Warehouse(folder / "w.duckdb", clock=fixed_clock(NOW))
    warehouse.run(folder / "spool")
    assert warehouse.prune(5) == 400
    return folder / "w.duckdb"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pruned_warehouse(tmp_path_factory.mktemp("pristine"))


def _one_line_error(stderr: str) -> str:
    [line] = stderr.splitlines()
    assert line.startswith("analytics: error: cannot compact "), line
    assert line.endswith(" (the database is unchanged)"), line
    return line


@pytest.mark.parametrize("blocked", ["copy", "journal"])
def test_a_folder_where_the_copy_goes_is_named_and_left_alone(
    tmp_path: Path, pristine: Path, blocked: str
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copyfile(pristine, db)
    content = db.read_bytes()
    folder = temporary_path(db) if blocked == "copy" else Path(f"{temporary_path(db)}.wal")
    folder.mkdir()
    (folder / "notes.txt").write_text("someone's")

    done = subprocess.run(
        cli("compact", "--db", str(db)), cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert (done.returncode, done.stdout) == (2, "")
    line = _one_line_error(done.stderr)
    assert f"{str(folder)!r}, where the copy goes, cannot be removed: Is a directory" in line
    assert db.read_bytes() == content
    assert (folder / "notes.txt").read_text() == "someone's"  # not this command's to remove


@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    """A folder anyone may write, with the sticky bit (as /tmp): only a file's owner may
    remove it. Not under tmp_path, which is private to root."""
    folder = Path(tempfile.mkdtemp(prefix="cw-compact-sticky-"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_a_copy_left_by_another_user_is_named(sticky_folder: Path, pristine: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the files to two users")
    db = sticky_folder / "w.duckdb"
    shutil.copyfile(pristine, db)
    os.chown(db, NOBODY, NOBODY)  # the analytics user's warehouse...
    leftover = temporary_path(db)
    leftover.write_bytes(b"half a copy")  # ...and root's killed `compact` of it
    content = db.read_bytes()
    argv, env = as_nobody(cli("compact", "--db", str(db)))

    done = subprocess.run(argv, cwd="/", env=env, capture_output=True, text=True, timeout=120)

    assert (done.returncode, done.stdout) == (2, "")
    line = _one_line_error(done.stderr)
    # Neither removed nor renamed by this user in a sticky folder: "move it away" could not
    # be done (review r247 F5); the owner is named.
    assert line.endswith(
        f"{str(leftover)!r}, where the copy goes, cannot be removed: Operation not permitted; "
        "it belongs to user id 0: ask that user or root to remove it (the database is unchanged)"
    )
    assert db.read_bytes() == content
    assert leftover.read_bytes() == b"half a copy"


def _disk_filled_after_the_check(monkeypatch: pytest.MonkeyPatch, left: int) -> None:
    """Another process fills the disk between compact's free-space check and its copy: a real
    file takes all but `left` bytes of it."""
    checked = analytics.compact._check_free_space

    def check_then_fill(named: Path, db: Path, size: int) -> None:
        checked(named, db, size)
        free = shutil.disk_usage(db.parent).free
        (db.parent / "filler").write_bytes(b"\0" * (free - left))

    monkeypatch.setattr(analytics.compact, "_check_free_space", check_then_fill)


@pytest.mark.parametrize(
    "left",
    # 0: the COPY's first write fails (said before too); 100 kB: the checkpoint at DETACH.
    [0, 100_000],
)
def test_a_disk_that_fills_during_the_copy_is_named(
    tmp_path: Path,
    pristine: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    left: int,
) -> None:
    with mounted_tmpfs(tmp_path / "disk", "12m") as disk:
        db = disk / "w.duckdb"
        shutil.copyfile(pristine, db)
        content = db.read_bytes()
        _disk_filled_after_the_check(monkeypatch, left)

        code = main(["compact", "--db", str(db)])

        assert code == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        line = _one_line_error(captured.err)
        assert line.endswith(": No space left on device (the database is unchanged)"), line
        assert db.read_bytes() == content
        assert sorted(os.listdir(disk)) == ["filler", "w.duckdb"]  # the copy removed


def test_a_system_call_that_fails_before_the_rename_is_one_line(
    tmp_path: Path,
    pristine: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copyfile(pristine, db)
    content = db.read_bytes()

    def statvfs_fails(path: str | os.PathLike[str]) -> Any:
        raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(path))  # a dying NFS mount

    monkeypatch.setattr("analytics.compact.shutil.disk_usage", statvfs_fails)

    code = main(["compact", "--db", str(db)])

    assert code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"{str(tmp_path)!r}: Input/output error" in line
    assert db.read_bytes() == content
    assert not temporary_path(db).exists()


def test_the_next_run_compacts_once_the_way_is_clear(tmp_path: Path, pristine: Path) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copyfile(pristine, db)
    temporary_path(db).mkdir()
    failed = subprocess.run(
        cli("compact", "--db", str(db)), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 2
    temporary_path(db).rmdir()

    done = subprocess.run(
        cli("compact", "--db", str(db)), cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith(f"compacted {str(db)!r}: ")
    assert sorted(os.listdir(tmp_path)) == ["w.duckdb"]
