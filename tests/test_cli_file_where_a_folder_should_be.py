"""A --db or --spool with a file where a folder of its path should be (`afile/w.duckdb`), or a
--spool that is a file, is refused in one line that names that file, exit 2: not "database
'afile/w.duckdb' does not exist" (prune, report, export), which sent the user looking for a
missing database, nor "spool folder ... does not exist or is not a folder" (rollup). Real
subprocesses in a folder holding a real warehouse made by the real `rollup`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli_support import cli

CSV = ["--table", "events", "--format", "csv"]

# (case, command line run in a folder holding the file `afile`, `spool/` and `w.duckdb`,
# the one error line)
CASES = [
    (
        "prune --db under a file",
        ["prune", "--db", "afile/w.duckdb", "--raw-days", "3"],
        "cannot open database 'afile/w.duckdb': 'afile' is a file, not a folder",
    ),
    (
        "prune --db two folders under a file",
        ["prune", "--db", "afile/var/w.duckdb", "--raw-days", "3"],
        "cannot open database 'afile/var/w.duckdb': 'afile' is a file, not a folder",
    ),
    (
        "report --db under a file",
        ["report", "pages", "--db", "afile/w.duckdb"],
        "cannot open database 'afile/w.duckdb': 'afile' is a file, not a folder",
    ),
    (
        "export --db under a file, to a file",
        ["export", "--db", "afile/w.duckdb", *CSV, "--output", "x.csv"],
        "cannot open database 'afile/w.duckdb': 'afile' is a file, not a folder",
    ),
    (
        "export --db under a file, to stdout",
        ["export", "--db", "afile/w.duckdb", *CSV, "--output", "-"],
        "cannot open database 'afile/w.duckdb': 'afile' is a file, not a folder",
    ),
    (
        "rollup --spool under a file",
        ["rollup", "--spool", "afile/spool", "--db", "w.duckdb"],
        "cannot open spool folder 'afile/spool': 'afile' is a file, not a folder",
    ),
    (
        "rollup --spool is a file",
        ["rollup", "--spool", "afile", "--db", "w.duckdb"],
        "spool folder 'afile' is a file, not a folder",
    ),
]

# The controls: what was said before, and is still true, stays as it was.
CONTROLS = [
    (
        "prune, database missing",
        ["prune", "--db", "var/w.duckdb", "--raw-days", "3"],
        "database 'var/w.duckdb' does not exist",
    ),
    (
        "report, database missing",
        ["report", "pages", "--db", "var/w.duckdb"],
        "database 'var/w.duckdb' does not exist (run `analytics rollup` first)",
    ),
    (
        "rollup, spool missing",
        ["rollup", "--spool", "var/spool", "--db", "w.duckdb"],
        "spool folder 'var/spool' does not exist or is not a folder",
    ),
    (
        "rollup --db under a file",
        ["rollup", "--spool", "spool", "--db", "afile/w.duckdb"],
        "cannot create database 'afile/w.duckdb': 'afile' is a file, not a folder",
    ),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("file-where-a-folder-should-be")
    (root / "spool").mkdir()
    made = subprocess.run(
        cli("rollup", "--spool", "spool", "--db", "w.duckdb"),
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    (root / "afile").write_text("a file where a folder should be\n")
    return root


def _refused(workdir: Path, argv: list[str], said: str) -> None:
    before = sorted(p.name for p in workdir.iterdir())
    done = subprocess.run(cli(*argv), capture_output=True, text=True, cwd=workdir, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"analytics: error: {said}\n")
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert (workdir / "afile").read_text() == "a file where a folder should be\n"


@pytest.mark.parametrize(("argv", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_file_in_the_way_is_named(workdir: Path, argv: list[str], said: str) -> None:
    _refused(workdir, argv, said)


@pytest.mark.parametrize(("argv", "said"), [c[1:] for c in CONTROLS], ids=[c[0] for c in CONTROLS])
def test_a_missing_path_is_said_as_before(workdir: Path, argv: list[str], said: str) -> None:
    _refused(workdir, argv, said)
