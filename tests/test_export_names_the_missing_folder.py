"""`analytics.export.export_table`, called from Python, refuses an output whose folder is
missing, is a file, or is not writable in one ExportError that names that folder and which
of these it is, as the CLI does: not "folder missing or not writable", which left the caller
to guess. Nothing is created. A real warehouse made by a real (empty) rollup; the folder it
may not write, as a user that file permissions apply to (root writes everywhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.errors import ExportError
from analytics.export import export_table, output_folder_problem
from analytics.warehouse import Warehouse
from tests.support import as_nobody

# (case, output relative to a folder holding the warehouse `w.duckdb`, the error; {root} is
# that folder, absolute)
CASES = [
    ("folder missing", "out/x.csv", "cannot write 'out/x.csv': folder 'out' does not exist"),
    (
        "nested folders missing",
        "out/a/b/x.csv",
        "cannot write 'out/a/b/x.csv': folder 'out/a/b' does not exist",
    ),
    (
        "a file where the folder should be",
        "w.duckdb/x.csv",
        "cannot write 'w.duckdb/x.csv': 'w.duckdb' is a file, not a folder",
    ),
    (
        "a link into a missing folder",
        "dangling.csv",
        "cannot write 'dangling.csv': folder '{root}/gone' does not exist",
    ),
    (
        "an absolute path, folder missing",
        "{root}/out/x.csv",
        "cannot write '{root}/out/x.csv': folder '{root}/out' does not exist",
    ),
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spool").mkdir()
    Warehouse(tmp_path / "w.duckdb").run(tmp_path / "spool")
    os.symlink("gone/x.csv", tmp_path / "dangling.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(("output", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_missing_output_folder_is_named(root: Path, output: str, said: str, fmt: str) -> None:
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(ExportError) as raised:
        export_table("w.duckdb", "events", fmt, output.format(root=root))
    assert str(raised.value) == said.format(root=root)
    # Refused before any work: no folder made, no temporary file left.
    assert sorted(p.name for p in root.iterdir()) == before


@pytest.mark.parametrize(
    "output", ["x.csv", "./x.csv", "{root}/x.csv", "sub/x.csv", "link-to-sub/x.csv"]
)
def test_an_output_in_an_existing_folder_has_no_problem_and_is_written(
    root: Path, output: str
) -> None:
    (root / "sub").mkdir()
    os.symlink("sub", root / "link-to-sub")
    named = output.format(root=root)
    assert output_folder_problem(named) is None
    assert export_table("w.duckdb", "events", "csv", named) == 0
    assert Path(named).read_text().startswith("ts,")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch folder anyone may enter (tmp_path is private to the test's user)."""
    path = Path(tempfile.mkdtemp(prefix="cw-export-folder-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_folder_this_user_may_not_write_is_named_as_such(open_dir: Path) -> None:
    (open_dir / "spool").mkdir()
    Warehouse(open_dir / "w.duckdb").run(open_dir / "spool")
    (open_dir / "w.duckdb").chmod(0o644)
    (open_dir / "locked").mkdir(mode=0o755)
    script = (
        "import sys\n"
        "from analytics.errors import ExportError\n"
        "from analytics.export import export_table\n"
        "try:\n"
        "    export_table('w.duckdb', 'events', 'csv', 'locked/x.csv')\n"
        "except ExportError as exc:\n"
        "    print(exc)\n"
    )
    argv, env = [sys.executable, "-c", script], dict(os.environ)
    if os.geteuid() == 0:
        argv, env = as_nobody(argv)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=open_dir, env=env, timeout=60)
    assert done.stderr == ""
    assert done.stdout == (
        "cannot write 'locked/x.csv': folder 'locked' is not writable for this user\n"
    )
    assert list((open_dir / "locked").iterdir()) == []


LOCKED = "locked/x.txt"


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "summary", "--db", "w.duckdb", "--output", "locked/x.txt"],
        ["export", "--db", "w.duckdb", "--table", "events", "--format", "csv", "--output", LOCKED],
    ],
    ids=["report", "export"],
)
def test_the_cli_names_a_folder_this_user_may_not_write_before_any_work(
    open_dir: Path, argv: list[str]
) -> None:
    # The CLI's --output check is the same function as export_table's: "Permission denied"
    # after the report was made said less, and later.
    (open_dir / "spool").mkdir()
    Warehouse(open_dir / "w.duckdb").run(open_dir / "spool")
    (open_dir / "w.duckdb").chmod(0o644)
    (open_dir / "locked").mkdir(mode=0o755)
    command = [sys.executable, "-m", "analytics", *argv]
    env = dict(os.environ)
    if os.geteuid() == 0:
        command, env = as_nobody(command)
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=open_dir, env=env, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr == (
        "analytics: error: cannot write 'locked/x.txt': folder 'locked' is not writable for "
        "this user\n"
    )
    assert list((open_dir / "locked").iterdir()) == []
