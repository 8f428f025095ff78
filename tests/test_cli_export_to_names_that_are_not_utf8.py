"""`export --output` to a file name DuckDB cannot be handed: not UTF-8, or non-ASCII under
`LC_ALL=C PYTHONUTF8=0` (Python then reads file names as ASCII). DuckDB writes a temporary
file of an ASCII name and Python renames it, so any file name works; a folder DuckDB cannot
write into is one line, exit 2, and nothing left behind. Real subprocesses, real files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.cli_support import build_one_day_warehouse, cli
from tests.support import ROOT

UTF8 = {"LANG": "C.UTF-8"}
ASCII_FILE_NAMES = {"LC_ALL": "C", "PYTHONUTF8": "0"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_one_day_warehouse(tmp_path_factory.mktemp("one-day"))


def _export(
    db: Path, fmt: str, output: bytes, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = ["export", "--db", str(db), "--table", "daily_totals", "--format", fmt]
    # os.fsdecode: a str that subprocess turns back into the same bytes (surrogateescape).
    command = cli(*argv, "--output", os.fsdecode(output))
    bare = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=bare, timeout=60)


def _rows(path: bytes, fmt: str) -> list[tuple[object, ...]]:
    # DuckDB cannot open the name itself: read it through a link of an ASCII name.
    link = Path(os.fsdecode(path)).parent / "readable"
    link.symlink_to(Path(os.fsdecode(path)))
    try:
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        relation = duckdb.sql(f"SELECT * FROM {reader}('{link}') ORDER BY ALL")
        assert relation is not None
        return relation.fetchall()
    finally:
        link.unlink()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("name", "env"),
    [(b"caf\xe9", UTF8), ("café".encode(), ASCII_FILE_NAMES)],
    ids=["not UTF-8", "ASCII file names"],
)
def test_an_export_to_a_name_duckdb_cannot_take_is_written(
    warehouse: Path, tmp_path: Path, fmt: str, name: bytes, env: dict[str, str]
) -> None:
    # Before: `cannot write …: Invalid Input Error: Python Conversion Failure: cannot encode
    # str as UTF-8, surrogate '\udce9' …`, exit 2 (DuckDB was handed a temporary name
    # holding the output's).
    out = os.path.join(os.fsencode(tmp_path), name + b"." + fmt.encode())
    result = _export(warehouse, fmt, out, env)
    assert result.returncode == 0, result.stderr
    assert os.listdir(os.fsencode(tmp_path)) == [os.path.basename(out)]
    reference = tmp_path / f"reference.{fmt}"
    assert _export(warehouse, fmt, os.fsencode(reference), UTF8).returncode == 0
    assert _rows(out, fmt) == _rows(os.fsencode(reference), fmt)
    assert _rows(out, fmt)  # the day's rows, not an empty file


def test_an_export_into_a_folder_duckdb_cannot_write_is_one_line(
    warehouse: Path, tmp_path: Path
) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"d\xe9")
    os.mkdir(folder)
    result = _export(warehouse, "csv", os.path.join(folder, b"out.csv"), UTF8)
    assert result.returncode == 2
    assert result.stderr.startswith("analytics: error: cannot write ")
    assert result.stderr.endswith("DuckDB writes UTF-8 paths only, and this one is not UTF-8 "
                                  "(or Python reads file names as ASCII here: LC_ALL=C with "
                                  "PYTHONUTF8=0)\n")  # fmt: skip
    assert os.listdir(folder) == []
