"""A warehouse file with a damaged block under its catalog: one line, exit 2, every command.

DuckDB opened the file, and the schema-version read that every command makes next raised
"Corrupt database file: computed checksum ... does not match": a traceback, and exit 1,
which means "busy, try again" to cron (found in session 24 checking walkthrough h240 F7).

A damaged block under a table that a prune does not read: the prune commits, and its
compaction, which copies every block, fails; the warning advised `analytics compact`, which
fails the same way every time (review r261 F2).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.cli_support import build_four_week_warehouse, cli, event_count
from tests.support import ROOT

# Where a damage of DAMAGED bytes hits the blocks that read goes through, counted from the
# end of build_four_week_warehouse's file (the catalog is written last).
FROM_END = 444_448
DAMAGED = 200_000
# DuckDB's file header and its two database headers come before block 0.
HEADERS = 3 * 4096
# DuckDB's words for a block whose checksum fails, after `analytics: ...: `; DuckDB 1.1 (the
# floor, `make test-floors`) puts its error's type first.
DAMAGED_WORDS = "(IO Error: )?Corrupt database file: "


def _says_damaged(stderr: str, before: str) -> bool:
    """Whether `stderr` starts with `before` and then DuckDB's words for a damaged block."""
    return re.match(re.escape(before) + DAMAGED_WORDS, stderr) is not None


COMMANDS = {
    "rollup": ("rollup", "--spool", "{spool}", "--db", "{db}"),
    "report": ("report", "summary", "--db", "{db}"),
    "export": ("export", "--db", "{db}", "--table", "events", "--format", "csv",
               "--output", "{out}"),
    "prune": ("prune", "--db", "{db}", "--raw-days", "1"),
    "compact": ("compact", "--db", "{db}"),
}  # fmt: skip


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damaged")
    db = build_four_week_warehouse(root)
    with open(db, "r+b") as file:
        file.seek(db.stat().st_size - FROM_END)
        file.write(b"\xab" * DAMAGED)
    return db


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_catalog_is_one_line_and_exit_2(
    damaged: Path, tmp_path: Path, command: str
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copyfile(damaged, db)
    paths = {"db": db, "spool": damaged.parent / "spool", "out": tmp_path / "e.csv"}
    argv = [arg.format(**paths) for arg in COMMANDS[command]]
    done = subprocess.run(cli(*argv), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert _says_damaged(done.stderr, f"analytics: error: cannot open database {str(db)!r}: ")
    assert done.stderr.count("\n") == 1
    assert db.read_bytes() == damaged.read_bytes()


def _damage_a_block_of(db: Path, table: str) -> None:
    """Overwrite bytes inside the (first) block that holds `table`'s rows, found in DuckDB's
    own storage map rather than at an offset, which any change to the builder would move."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
        block = con.execute(
            "SELECT min(block_id) FROM pragma_storage_info(?) WHERE block_id >= 0", [table]
        ).fetchall()[0][0]
    finally:
        con.close()
    with open(db, "r+b") as file:
        file.seek(HEADERS + block * block_size + 1000)  # past the block's checksum
        file.write(b"\xab" * 64)


def test_a_prune_whose_compaction_meets_a_damaged_block_advises_a_backup(tmp_path: Path) -> None:
    db = build_four_week_warehouse(tmp_path)
    events = event_count(db)
    _damage_a_block_of(db, "daily_referrers")  # a rollup table: the prune never reads it
    done = subprocess.run(
        cli("prune", "--db", str(db), "--raw-days", "1"),
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 5, done.stderr  # the prune is committed, the file not compacted
    assert done.stdout.startswith("pruned ")
    assert event_count(db) < events
    warning = done.stderr
    assert _says_damaged(warning, f"analytics: WARNING: cannot compact {str(db)!r}: ")
    assert warning.endswith(
        "; the file is damaged, and no compaction can copy it: restore it from a backup and "
        "prune again (the pruned raw events stay readable in this file)\n"
    )
    assert warning.count("\n") == 1
    # The advice holds: compact meets the same block.
    again = subprocess.run(
        cli("compact", "--db", str(db)), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 2
    assert "Corrupt database file: " in again.stderr


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("output", ["e.out", "-"])
def test_an_export_that_meets_a_damaged_block_blames_the_warehouse(
    tmp_path: Path, fmt: str, output: str
) -> None:
    """A damaged block of the exported table (past the catalog: the file opens) was said as
    "cannot write 'e.csv': Corrupt database file: …", the output blamed for the warehouse."""
    db = build_four_week_warehouse(tmp_path)
    _damage_a_block_of(db, "events")
    damaged = db.read_bytes()
    argv = ["export", "--db", str(db), "--table", "events", "--format", fmt, "--output", output]
    done = subprocess.run(cli(*argv), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert _says_damaged(done.stderr, f"analytics: error: cannot read database {str(db)!r}: ")
    assert done.stderr.endswith("; the file is damaged: restore it from a backup\n")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "e.out").exists()  # no torso, no temporary file left
    assert not list(tmp_path.glob(".tmp-export-*"))
    assert db.read_bytes() == damaged
