"""A 0-byte --db file (made by `touch`, `mktemp` or an install script that set its owner and
mode) is a new warehouse to `rollup`, and an empty file, plainly said, to every reader.

Before, every command refused it with DuckDB's words ('cannot open database 'w.duckdb': IO
Error: The file ... exists, but it is not a valid DuckDB database file!'), rollup too: a new
user who made the file first, for its permissions, was stuck. The file becomes a database in
place (its inode, owner, group and mode kept); a file that is not empty is never written to.
Real DuckDB files, real `analytics` processes.
"""

from __future__ import annotations

import grp
import os
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
from tests.cli_support import cli, event_count
from tests.warehouse_support import events_for_days, write_events

DAYS = [date(2026, 10, 1), date(2026, 10, 2)]
PER_DAY = 25
EMPTY_MESSAGE = "is an empty file (0 bytes), not a warehouse yet: `analytics rollup` makes it one"


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(*argv), capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    write_events(folder, events_for_days(random.Random(3), DAYS, per_day=PER_DAY))
    return folder


def _other_group() -> int | None:
    """A group other than this process's, that it may give a file (root: any)."""
    if os.geteuid() != 0:
        return None
    for group in grp.getgrall():
        if group.gr_gid != os.getegid():
            return group.gr_gid
    return None


def test_rollup_makes_an_empty_file_the_warehouse_keeping_its_owner_and_mode(
    tmp_path: Path, spool: Path
) -> None:
    db = tmp_path / "w.duckdb"
    db.touch()
    os.chmod(db, 0o640)
    group = _other_group()
    if group is not None:
        os.chown(db, -1, group)
    before = os.stat(db)
    result = _run("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr
    assert result.stdout.startswith(f"ingested 2 segments ({2 * PER_DAY} events, 2 days)")
    assert event_count(db) == 2 * PER_DAY
    after = os.stat(db)
    assert (after.st_ino, after.st_mode, after.st_uid, after.st_gid) == (
        before.st_ino,
        before.st_mode,
        before.st_uid,
        before.st_gid,
    )
    # A second run reads it as the warehouse it now is: nothing counted twice.
    again = _run("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert event_count(db) == 2 * PER_DAY


def test_rollup_through_a_link_to_an_empty_file(tmp_path: Path, spool: Path) -> None:
    (tmp_path / "real.duckdb").touch()
    (tmp_path / "w.duckdb").symlink_to("real.duckdb")
    result = _run("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "w.duckdb").is_symlink()
    assert event_count(tmp_path / "real.duckdb") == 2 * PER_DAY


def test_warehouse_run_from_python_takes_an_empty_file_too(tmp_path: Path, spool: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.write_bytes(b"")
    result = Warehouse(db).run(spool)
    assert result.ingest.segments == 2
    assert event_count(db) == 2 * PER_DAY


def test_two_first_rollups_at_once_lose_nothing(tmp_path: Path) -> None:
    """Each writes its own spool into one empty file: one makes it a database, the other
    waits for DuckDB's lock and adds to that database, never writing a new one over it."""
    for name, seed in (("a", 1), ("b", 2)):
        day = date(2026, 10, 1 + seed)
        write_events(tmp_path / name, events_for_days(random.Random(seed), [day], per_day=40))
    (tmp_path / "w.duckdb").touch()
    runs = [
        subprocess.Popen(
            cli("rollup", "--spool", name, "--db", "w.duckdb", "--wait", "60"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert event_count(tmp_path / "w.duckdb") == 80


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "pages"],
        ["report", "referrers", "--format", "csv", "--output", "r.csv"],
        ["export", "--table", "events", "--format", "csv", "--output", "e.csv"],
        ["export", "--table", "daily_totals", "--format", "parquet", "--output", "t.parquet"],
        ["prune", "--raw-days", "30"],
    ],
    ids=["report", "report to a file", "export csv", "export parquet", "prune"],
)
def test_readers_and_prune_say_the_file_is_empty_and_leave_it(
    tmp_path: Path, argv: list[str]
) -> None:
    db = tmp_path / "w.duckdb"
    db.touch()
    result = _run(*argv, "--db", "w.duckdb", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"analytics: error: database 'w.duckdb' {EMPTY_MESSAGE}"]
    assert result.stdout == ""
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]  # nothing else made


def test_a_warehouse_that_may_not_create_refuses_it_in_python(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.touch()
    with pytest.raises(WarehouseError, match="empty file"):
        Warehouse(db, create=False).prune(30)
    assert db.stat().st_size == 0


@pytest.mark.parametrize(
    "content", [b"\0", b"not a database\n" * 100, b"PAR1"], ids=["one byte", "text", "magic"]
)
def test_a_file_with_anything_in_it_is_never_written(
    tmp_path: Path, spool: Path, content: bytes
) -> None:
    db = tmp_path / "w.duckdb"
    db.write_bytes(content)
    result = _run("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert db.read_bytes() == content
    assert len(list(spool.rglob("*.parquet"))) == 2  # the segments are still in the spool


def test_no_temporary_database_is_left_behind(tmp_path: Path, spool: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    (tmp_path / "w.duckdb").touch()
    env = {**os.environ, "TMPDIR": str(scratch)}
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "rollup", "--spool", "spool", "--db", "w.duckdb"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spool", "tmp", "w.duckdb"]


def test_a_full_disk_leaves_the_file_empty_not_half_written(tmp_path: Path, spool: Path) -> None:
    """On an 8 kB tmpfs (a new database is 12 kB): one line, and the file is as it was."""
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(tiny)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        (tiny / "w.duckdb").touch()
        result = _run("rollup", "--spool", str(spool), "--db", "w.duckdb", cwd=tiny)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            "analytics: error: cannot make the empty file 'w.duckdb' a database: "
            "No space left on device"
        ]
        assert (tiny / "w.duckdb").stat().st_size == 0
        assert len(list(spool.rglob("*.parquet"))) == 2
    finally:
        subprocess.run(["umount", str(tiny)], check=False)
