"""A --db or --output whose folder does not exist (or is a file) is refused before any work,
in one line that names that folder: not as a permission problem ("cannot write in 'var' ...
DuckDB keeps its journal"), not in the OS's words about the file that was to be made ("No
such file or directory"), and not as "folder missing or not writable". No folder is created:
a typo in cron's --db must not start a second, empty warehouse. Real subprocesses, a real
DuckDB file made by the real `rollup`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import cli

CSV = ["--table", "events", "--format", "csv"]

# (case, command line run in a folder holding `spool/` and a warehouse `w.duckdb`, the one
# error line; {root} is that folder, absolute)
CASES = [
    (
        "rollup, folder missing",
        ["rollup", "--spool", "spool", "--db", "var/w.duckdb"],
        "cannot create database 'var/w.duckdb': folder 'var' does not exist",
    ),
    (
        "rollup, nested folders missing",
        ["rollup", "--spool", "spool", "--db", "var/a/b/w.duckdb"],
        "cannot create database 'var/a/b/w.duckdb': folder 'var/a/b' does not exist",
    ),
    (
        "rollup, a file where the folder should be",
        ["rollup", "--spool", "spool", "--db", "w.duckdb/x.duckdb"],
        "cannot create database 'w.duckdb/x.duckdb': 'w.duckdb' is a file, not a folder",
    ),
    (
        "rollup, a link into a missing folder",
        ["rollup", "--spool", "spool", "--db", "dangling.duckdb"],
        "cannot create database 'dangling.duckdb': folder '{root}/gone' does not exist",
    ),
    (
        "report --output, folder missing",
        ["report", "pages", "--db", "w.duckdb", "--output", "out/r.txt"],
        "cannot write 'out/r.txt': folder 'out' does not exist",
    ),
    (
        "report --output, a file where the folder should be",
        ["report", "pages", "--db", "w.duckdb", "--output", "w.duckdb/r.txt"],
        "cannot write 'w.duckdb/r.txt': 'w.duckdb' is a file, not a folder",
    ),
    (
        "report --output, a link into a missing folder",
        ["report", "pages", "--db", "w.duckdb", "--output", "dangling.txt"],
        "cannot write 'dangling.txt': folder '{root}/gone' does not exist",
    ),
    (
        "export --output, folder missing",
        ["export", "--db", "w.duckdb", *CSV, "--output", "out/a/x.csv"],
        "cannot write 'out/a/x.csv': folder 'out/a' does not exist",
    ),
    (
        "export --output, a file where the folder should be",
        ["export", "--db", "w.duckdb", *CSV, "--output", "w.duckdb/x.csv"],
        "cannot write 'w.duckdb/x.csv': 'w.duckdb' is a file, not a folder",
    ),
    # Readers never create a database: a missing one is named as the file it is.
    (
        "report, database missing",
        ["report", "pages", "--db", "var/w.duckdb"],
        "database 'var/w.duckdb' does not exist (run `analytics rollup` first)",
    ),
    (
        "export, database missing",
        ["export", "--db", "var/w.duckdb", *CSV, "--output", "x.csv"],
        "database 'var/w.duckdb' does not exist",
    ),
    (
        "prune, database missing",
        ["prune", "--db", "var/w.duckdb", "--raw-days", "3"],
        "database 'var/w.duckdb' does not exist",
    ),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("missing-folders")
    (root / "spool").mkdir()
    made = subprocess.run(
        cli("rollup", "--spool", "spool", "--db", "w.duckdb"),
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    os.symlink("gone/w.duckdb", root / "dangling.duckdb")
    os.symlink("gone/r.txt", root / "dangling.txt")
    return root


@pytest.mark.parametrize(("argv", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_missing_folder_or_file_is_named_plainly(
    workdir: Path, argv: list[str], said: str
) -> None:
    before = sorted(p.name for p in workdir.iterdir())
    done = subprocess.run(cli(*argv), capture_output=True, text=True, cwd=workdir, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"analytics: error: {said.format(root=workdir)}\n"
    assert done.stdout == ""
    # Refused before any work: no folder made, no temporary file left.
    assert sorted(p.name for p in workdir.iterdir()) == before
