"""A `--db` that is a symbolic link (`/etc/site/analytics.duckdb -> /srv/data/...`, a release
folder pointing at shared data). DuckDB follows the link and keeps its journal beside the file
it points at, so that is the folder a writer must be able to write: a link kept in a
read-only folder works, and a link into a folder the user may not write is refused before any
work. Run as user 65534 (file permissions do not apply to root), through real subprocesses.
"""

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

from analytics.warehouse import Warehouse
from tests.support import NOBODY, ROOT, as_nobody
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 1)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder anyone may enter (tmp_path is private to root), with a spool user 65534 owns."""
    if os.geteuid() != 0:
        pytest.skip("needs root: only root can run the CLI as a user permissions apply to")
    root = Path(tempfile.mkdtemp(prefix="cw-db-link-"))
    root.chmod(0o755)
    write_events(root / "spool", events_for_days(random.Random(89), [DAY], per_day=20))
    for path in [root / "spool", *(root / "spool").rglob("*")]:
        os.chown(path, NOBODY, NOBODY)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def _folder(path: Path, *, writable_by_nobody: bool) -> Path:
    path.mkdir()
    if writable_by_nobody:
        os.chown(path, NOBODY, NOBODY)
    path.chmod(0o755)
    return path


def _rollup_as_nobody(root: Path, db: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "analytics", "rollup", "--spool", str(root / "spool")]
    command, env = as_nobody([*argv, "--db", str(db)])
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def _events(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        con.close()


def test_a_link_in_a_read_only_folder_to_a_warehouse_the_user_may_write_works(
    scratch: Path,
) -> None:
    # Before: refused with "cannot write in '…/etc', the database's folder", the folder of the
    # link, where DuckDB never writes.
    data = _folder(scratch / "data", writable_by_nobody=True)
    etc = _folder(scratch / "etc", writable_by_nobody=False)
    (etc / "w.duckdb").symlink_to(data / "w.duckdb")
    result = _rollup_as_nobody(scratch, etc / "w.duckdb")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.startswith("ingested 1 segment (20 events")
    assert sorted(os.listdir(data)) == ["w.duckdb"]  # the journal went where the file is
    assert _events(data / "w.duckdb") == 20


def test_a_link_to_a_warehouse_in_a_folder_the_user_may_not_write_is_refused_first(
    scratch: Path,
) -> None:
    # Before: the link's own folder was writable, so the run ingested everything and failed
    # at COMMIT (DuckDB's journal goes beside the file the link points at); with nothing new
    # it said "nothing to do", exit 0, run after run.
    shared = _folder(scratch / "shared", writable_by_nobody=False)
    (scratch / "empty-spool").mkdir()
    Warehouse(shared / "w.duckdb").run(scratch / "empty-spool")
    (shared / "w.duckdb").chmod(0o666)
    mine = _folder(scratch / "mine", writable_by_nobody=True)
    (mine / "w.duckdb").symlink_to(shared / "w.duckdb")
    result = _rollup_as_nobody(scratch, mine / "w.duckdb")
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"analytics: error: cannot write in {str(shared)!r}, the database's folder: DuckDB "
        "keeps its journal (w.duckdb.wal) beside the database\n"
    )
    assert _events(shared / "w.duckdb") == 0
