"""A `--db` whose path DuckDB cannot be handed: a file name that is not UTF-8 (DuckDB opens
UTF-8 paths only), or any non-ASCII name under `LC_ALL=C PYTHONUTF8=0`, where Python reads
file names as ASCII. Every command says so in one line, exit 2, and touches nothing. Real
subprocesses, real files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import build_one_day_warehouse, cli
from tests.support import ROOT

COMMANDS = {
    "rollup": ["rollup", "--spool", "{spool}", "--db", "{db}"],
    "report": ["report", "pages", "--db", "{db}"],
    "export": ["export", "--db", "{db}", "--table", "daily_totals", "--format", "csv"],
    "prune": ["prune", "--db", "{db}", "--raw-days", "30"],
}
# (the name's bytes, the environment, the reason the one line must give)
NAMES = {
    "not UTF-8": (b"caf\xe9.duckdb", {"LANG": "C.UTF-8"}, "is not UTF-8"),
    "ASCII file names": (
        "café.duckdb".encode(),
        {"LC_ALL": "C", "PYTHONUTF8": "0"},
        "reads file names as ascii",
    ),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_one_day_warehouse(tmp_path_factory.mktemp("one-day"))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_path_duckdb_cannot_take_is_one_line(
    warehouse: Path, tmp_path: Path, command: str, name: str
) -> None:
    # Before: `RuntimeError: std::bad_cast` and a traceback from every command.
    raw, env, reason = NAMES[name]
    db = os.path.join(os.fsencode(tmp_path), raw)
    shutil.copyfile(warehouse, db)
    before = Path(os.fsdecode(db)).read_bytes()
    # A str that subprocess turns back into the same bytes (surrogateescape).
    paths = {"{db}": os.fsdecode(db), "{spool}": str(warehouse.parent / "spool")}
    argv = [paths.get(arg, arg) for arg in COMMANDS[command]]
    if command == "export":
        argv += ["--output", str(tmp_path / "out.csv")]
    bare = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(cli(*argv), capture_output=True, cwd=ROOT, env=bare, timeout=60)
    assert result.returncode == 2, result.stderr
    line = result.stderr.decode("utf-8", "backslashreplace")
    assert line.startswith("analytics: error: argument --db: "), line
    assert line.count("\n") == 1, line
    assert reason in line, line
    assert Path(os.fsdecode(db)).read_bytes() == before
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [raw]
