"""An --output that cannot be written, said once and in plain words, by `export` as by `report`.

Before: `export --output /dev/full` ended in DuckDB's raw JSON ('IO Error: Async write failed
for range [offset=0, size=160]: {"exception_type":"IO",...,"errno":"28"}') where `report` said
"No space left on device"; a folder as --output was "output 'adir' is a folder" to `export`
and "cannot write 'adir': Is a directory" to `report`, which said it only after running the
report and printing its range WARNING. Real warehouse, real `analytics` processes, the
kernel's own /dev/full.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from analytics.database import os_reason
from analytics.errors import ExportError
from analytics.export import export_table
from tests.cli_support import build_five_day_warehouse, cli

FOLDER_MESSAGE = "it is a folder, not a file"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_five_day_warehouse(tmp_path_factory.mktemp("warehouse"))


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(*argv), capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no WARNING before the error
    assert lines[0].startswith("analytics: error: ")
    return lines[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--table", "events", "--format", "csv"],
        ["export", "--table", "events", "--format", "parquet"],
        ["export", "--table", "daily_totals", "--format", "csv"],
        ["report", "pages", "--from", "2026-10-01", "--to", "2026-10-05", "--format", "csv"],
    ],
    ids=["export events csv", "export events parquet", "export totals csv", "report"],
)
def test_a_full_device_is_said_as_the_system_says_it(
    db: Path, tmp_path: Path, argv: list[str]
) -> None:
    result = _run(*argv, "--db", str(db), "--output", "/dev/full", cwd=tmp_path)
    line = _one_error_line(result)
    assert line == "analytics: error: cannot write '/dev/full': No space left on device"


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--table", "events", "--format", "csv"],
        ["export", "--table", "daily_totals", "--format", "parquet"],
        # The default range (the last 28 days up to yesterday) holds none of the warehouse's
        # October days: the report's WARNING about it came before the error.
        ["report", "pages"],
        ["report", "referrers", "--format", "html"],
    ],
    ids=["export csv", "export parquet", "report table", "report html"],
)
@pytest.mark.parametrize("spelled", ["out", "out/", "link-to-out"])
def test_a_folder_as_output_is_one_error_in_one_wording_before_any_work(
    db: Path, tmp_path: Path, argv: list[str], spelled: str
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "link-to-out").symlink_to("out")
    result = _run(*argv, "--db", str(db), "--output", spelled, cwd=tmp_path)
    shown = str(Path(spelled))  # the CLI's Path drops a trailing slash
    assert _one_error_line(result) == f"analytics: error: cannot write {shown!r}: {FOLDER_MESSAGE}"
    assert result.stdout == ""
    assert os.listdir(tmp_path / "out") == []  # nothing written in it


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this system")
@pytest.mark.parametrize(
    "argv",
    [["export", "--table", "daily_totals", "--format", "csv"], ["report", "pages"]],
    ids=["export", "report"],
)
def test_a_folder_under_dev_is_a_folder_too(db: Path, tmp_path: Path, argv: list[str]) -> None:
    result = _run(*argv, "--db", str(db), "--output", "/dev/shm", cwd=tmp_path)
    assert _one_error_line(result) == f"analytics: error: cannot write '/dev/shm': {FOLDER_MESSAGE}"


def test_export_table_from_python_words_a_folder_the_same(db: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as raised:
        export_table(db, "daily_totals", "csv", tmp_path)
    assert str(raised.value) == f"cannot write {str(tmp_path)!r}: {FOLDER_MESSAGE}"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'IO Error: Async write failed for range [offset=0, size=160]: {"exception_type":"IO",'
            '"exception_message":"Could not write file \\"/dev/full\\": No space left on device",'
            '"errno":"28"}',
            os.strerror(28),
        ),
        ('IO Error: failed: {"exception_type":"IO","errno":13}', os.strerror(13)),
        (
            'IO Error: failed: {"exception_type":"IO","exception_message":"Disk quota hit"}',
            "Disk quota hit",
        ),
        ('IO Error: failed: {"errno":"0","exception_message":"odd"}', "odd"),
        (
            "IO Error: Cannot open file: Permission denied\nmore",
            "IO Error: Cannot open file: Permission denied",
        ),
        ("IO Error: set {a, b} broken", "IO Error: set {a, b} broken"),
        ('IO Error: a list ["x"]', 'IO Error: a list ["x"]'),
    ],
    ids=["errno as text", "errno as number", "no errno", "errno 0", "no json", "braces", "list"],
)
def test_os_reason_reads_duckdbs_json(message: str, expected: str) -> None:
    assert os_reason(duckdb.IOException(message)) == expected
