"""A warehouse file with a damaged block under its catalog: one line, exit 2, every command.

DuckDB opened the file, and the schema-version read that every command makes next raised
"Corrupt database file: computed checksum ... does not match": a traceback, and exit 1,
which means "busy, try again" to cron (found in session 24 checking walkthrough h240 F7).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import build_four_week_warehouse, cli
from tests.support import ROOT

# Where a damage of DAMAGED bytes hits the blocks that read goes through, counted from the
# end of build_four_week_warehouse's file (the catalog is written last).
FROM_END = 444_448
DAMAGED = 200_000

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
    assert done.stderr.startswith(
        f"analytics: error: cannot open database {str(db)!r}: Corrupt database file: "
    )
    assert done.stderr.count("\n") == 1
    assert db.read_bytes() == damaged.read_bytes()
