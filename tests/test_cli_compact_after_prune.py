"""The CLI compacts the warehouse file after a run whose prune deleted raw events, so that
their bytes are gone from it (a privacy audit found pruned referrer hosts with `grep -a` in
the .duckdb file after `prune`): `rollup` and `prune` do it unless `--no-compact`, a run
that pruned nothing leaves the file alone, `analytics compact` does it on its own, and a
compaction that cannot run after a committed prune is one warning and exit 5.

Every command runs as cron runs it: `python -m analytics` in a process of its own, on real
DuckDB files, with the real date (events are dated relative to today).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.warehouse_support import events_for_days, write_events, writer_holding

ROOT = Path(__file__).resolve().parent.parent
MARKER = b"zzprunedmarker"
EXIT_NOT_COMPACTED = 5


def _today() -> date:
    return datetime.now(UTC).date()


def _analytics(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _spool_with_old_marked_events(root: Path) -> Path:
    """A spool of 300 events 20 days ago from marker referrer hosts (pruned with --raw-days 5)
    and 300 of yesterday."""
    rng = random.Random(11)
    old_day = _today() - timedelta(days=20)
    old = [
        event._replace(referrer_host=f"{MARKER.decode()}{index:04d}.example.org")
        for index, event in enumerate(events_for_days(rng, [old_day], 300))
    ]
    spool = root / "spool"
    write_events(spool, old + events_for_days(rng, [_today() - timedelta(days=1)], 300))
    return spool


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse that holds the old, marked raw events (rolled up with --raw-days 90)."""
    _spool_with_old_marked_events(tmp_path)
    done = _analytics("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    db = tmp_path / "w.duckdb"
    assert _raw_events(db) == 600
    return db


@pytest.fixture
def marker_in_the_clear(warehouse: Path) -> None:
    """For the tests that look for the pruned hosts in the file's bytes, as `grep -a` does.
    DuckDB 1.1 (the floor, `make test-floors`) stores them FSST-compressed, with no plain copy
    to find before the prune either: those tests could not tell a compacted file there."""
    if MARKER not in warehouse.read_bytes():
        pytest.skip("this DuckDB stores the marked hosts compressed: no bytes to look for")


def _raw_events(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])


def _more_events(root: Path) -> None:
    """One new segment of today, so that the next rollup has something to ingest."""
    write_events(root / "spool", events_for_days(random.Random(12), [_today()], 20))


@pytest.mark.usefixtures("marker_in_the_clear")
def test_a_rollup_that_prunes_rows_compacts_the_file(warehouse: Path) -> None:
    root = warehouse.parent
    _more_events(root)
    before = warehouse.stat()

    done = _analytics("rollup", "--spool", "spool", "--db", "w.duckdb", "--raw-days", "5", cwd=root)

    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert "pruned 300 raw events" in lines[0]
    assert lines[1].startswith("compacted 'w.duckdb': ")
    assert lines[1].endswith("rows, same content)")
    assert MARKER not in warehouse.read_bytes()
    assert warehouse.stat().st_ino != before.st_ino  # rewritten, renamed into place
    assert _raw_events(warehouse) == 320
    assert sorted(os.listdir(root)) == ["spool", "w.duckdb"]  # no copy, no journal left


@pytest.mark.usefixtures("marker_in_the_clear")
def test_a_rollup_that_prunes_nothing_leaves_the_file_alone(warehouse: Path) -> None:
    root = warehouse.parent
    _more_events(root)
    before = warehouse.stat()

    done = _analytics("rollup", "--spool", "spool", "--db", "w.duckdb", cwd=root)

    assert (done.returncode, done.stderr) == (0, "")
    assert "pruned 0 raw events" in done.stdout
    assert "compacted" not in done.stdout
    assert warehouse.stat().st_ino == before.st_ino
    assert MARKER in warehouse.read_bytes()  # nothing was pruned: the events are kept
    assert _raw_events(warehouse) == 620


@pytest.mark.usefixtures("marker_in_the_clear")
@pytest.mark.parametrize("command", ["rollup", "prune"])
def test_no_compact_leaves_the_bytes_and_analytics_compact_removes_them(
    warehouse: Path, command: str
) -> None:
    root = warehouse.parent
    before = warehouse.stat()
    if command == "rollup":
        args = ["rollup", "--spool", "spool", "--db", "w.duckdb", "--raw-days", "5"]
    else:
        args = ["prune", "--db", "w.duckdb", "--raw-days", "5"]

    done = _analytics(*args, "--no-compact", cwd=root)

    assert (done.returncode, done.stderr) == (0, "")
    assert "pruned 300 raw events" in done.stdout
    assert "compacted" not in done.stdout
    assert _raw_events(warehouse) == 300
    assert MARKER in warehouse.read_bytes()  # deleted rows, bytes still in the file
    assert warehouse.stat().st_ino == before.st_ino

    done = _analytics("compact", "--db", "w.duckdb", cwd=root)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("compacted 'w.duckdb': ")
    assert done.stdout.count("\n") == 1
    assert MARKER not in warehouse.read_bytes()
    assert _raw_events(warehouse) == 300


@pytest.mark.usefixtures("marker_in_the_clear")
def test_prune_compacts_by_default_and_quietly_with_quiet(warehouse: Path) -> None:
    root = warehouse.parent

    done = _analytics("prune", "--db", "w.duckdb", "--raw-days", "5", "--quiet", cwd=root)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert MARKER not in warehouse.read_bytes()
    assert _raw_events(warehouse) == 300


def test_a_compaction_that_cannot_run_after_a_committed_prune_exits_5(warehouse: Path) -> None:
    # A second name for the file: compacting would leave the old bytes under it, so
    # `compact` refuses; the prune is committed all the same.
    os.link(warehouse, warehouse.parent / "backup.duckdb")

    done = _analytics("prune", "--db", "w.duckdb", "--raw-days", "5", cwd=warehouse.parent)

    assert done.returncode == EXIT_NOT_COMPACTED
    assert done.stdout == "pruned 300 raw events older than 5 days\n"
    [warning] = done.stderr.splitlines()
    assert warning.startswith("analytics: WARNING: database 'w.duckdb' has 2 names (hard links)")
    assert warning.endswith(
        "; the pruned raw events stay readable in the file until `analytics compact` succeeds"
    )
    assert _raw_events(warehouse) == 300  # committed


def test_a_rollup_whose_compaction_cannot_run_exits_5_with_its_counts_committed(
    warehouse: Path,
) -> None:
    root = warehouse.parent
    _more_events(root)
    os.link(warehouse, root / "backup.duckdb")

    done = _analytics("rollup", "--spool", "spool", "--db", "w.duckdb", "--raw-days", "5", cwd=root)

    assert done.returncode == EXIT_NOT_COMPACTED
    assert "ingested 1 segment " in done.stdout
    assert "pruned 300 raw events" in done.stdout
    assert len(done.stderr.splitlines()) == 1
    assert "stay readable in the file until `analytics compact` succeeds" in done.stderr
    assert _raw_events(warehouse) == 320


def test_compact_refusals_are_one_line(tmp_path: Path, warehouse: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    cases = {
        ("--db", "missing.duckdb"): (2, "database 'missing.duckdb' does not exist"),
        ("--db", "afile/w.duckdb"): (
            2,
            "cannot open database 'afile/w.duckdb': 'afile' is a file, not a folder",
        ),
        ("--db", "afile"): (2, "not a valid DuckDB database file"),
    }
    for args, (code, words) in cases.items():
        done = _analytics("compact", *args, cwd=tmp_path)
        assert done.returncode == code, (args, done.stderr)
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith("analytics: error: "), line
        assert words in line, line
    before = warehouse.read_bytes()
    with writer_holding(warehouse):
        done = _analytics("compact", "--db", "w.duckdb", "--wait", "0.3", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "analytics: error: database 'w.duckdb' is in use by another process "
        "(waited 0.3 s); try again when it has finished\n"
    )
    assert warehouse.read_bytes() == before  # untouched


def test_no_compact_is_refused_with_spark(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    done = _analytics(
        "rollup",
        "--spool",
        "spool",
        "--engine",
        "spark",
        "--output",
        "out",
        "--no-compact",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "analytics: error: --no-compact is for --engine duckdb: Spark keeps no raw events\n"
    )
