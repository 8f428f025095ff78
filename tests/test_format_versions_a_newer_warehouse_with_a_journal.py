"""A warehouse of a newer schema whose writer died (a newer cookiewall's rollup killed, its
journal `<db>.wal` left beside the file): every command still refuses it in one line, and the
writers (rollup, prune) no longer change the file first. Opened to write, DuckDB replays the
journal into the file before anything can be read, so the refusing rollup rewrote a newer
release's file. A warehouse of this schema with a journal is opened and used as before.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from analytics.database import WAREHOUSE_SCHEMA_VERSION
from tests.cli_support import build_one_day_warehouse, cli, event_count
from tests.support import ROOT

CURRENT = str(WAREHOUSE_SCHEMA_VERSION)
NEWER = str(WAREHOUSE_SCHEMA_VERSION + 1)


def _crashed_copy(db: Path, version: str) -> Path:
    """A copy of `db`, stamped `version`, as its writer left it when killed: the stamp and a
    table of its own in the journal only."""
    con = duckdb.connect(str(db))
    try:
        con.execute("SET checkpoint_threshold = '1TB'")  # keep the changes in the journal
        con.execute("UPDATE warehouse_meta SET value = ? WHERE key = 'schema_version'", [version])
        con.execute("CREATE TABLE daily_sessions AS SELECT 1 AS sessions")
        crashed = db.with_name("crashed.duckdb")
        shutil.copy(db, crashed)
        shutil.copy(f"{db}.wal", f"{crashed}.wal")
    finally:
        con.close()
    return crashed


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.mark.parametrize(
    "argv",
    [
        ("rollup", "--spool", "{root}/spool"),
        ("rollup", "--spool", "{root}/spool", "--delete-ingested"),
        ("prune", "--raw-days", "1"),
        ("report", "summary"),
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_a_newer_warehouse_with_a_journal_is_refused_unchanged(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    crashed = _crashed_copy(build_one_day_warehouse(tmp_path), NEWER)
    journal = Path(f"{crashed}.wal")
    before = (_digest(crashed), _digest(journal))
    segments = sorted(p.name for p in (tmp_path / "spool").rglob("*.parquet"))
    args = [a.format(root=tmp_path) for a in argv]
    proc = subprocess.run(
        cli(*args, "--db", str(crashed)), capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"analytics: error: database {str(crashed)!r} has warehouse schema {NEWER}, written by "
        f"a newer cookiewall than this one (schema {CURRENT}): upgrade cookiewall to use it\n"
    )
    assert (_digest(crashed), _digest(journal)) == before
    assert sorted(p.name for p in (tmp_path / "spool").rglob("*.parquet")) == segments


def test_a_warehouse_of_this_schema_with_a_journal_is_used(tmp_path: Path) -> None:
    # The control: the journal replayed, its table kept, the run as any other.
    crashed = _crashed_copy(build_one_day_warehouse(tmp_path), CURRENT)
    proc = subprocess.run(
        cli("rollup", "--spool", str(tmp_path / "spool"), "--db", str(crashed)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert event_count(crashed) == 50
    con = duckdb.connect(str(crashed), read_only=True)
    try:
        assert con.execute("SELECT sessions FROM daily_sessions").fetchall() == [(1,)]
    finally:
        con.close()
