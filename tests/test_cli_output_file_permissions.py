"""Who may read what `report --output` and `export --output` write, under the umask cron runs
with. A new file gets the umask's mode, as any program's would; a file that is there already
(a report published to the web server, an export a dashboard user reads) keeps its mode and
group when the run replaces it, whatever the umask. Real subprocesses, real DuckDB files.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import build_three_day_warehouse, cli
from tests.support import NOBODY, ROOT

RANGE = ["--from", "2026-10-01", "--to", "2026-10-03"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_three_day_warehouse(tmp_path_factory.mktemp("three-days"))


def _writers(db: Path) -> dict[str, list[str]]:
    export = ["export", "--db", str(db), "--table", "daily_totals", "--format"]
    return {
        "report.html": ["report", "pages", "--db", str(db), *RANGE, "--format", "html"],
        "report.csv": ["report", "referrers", "--db", str(db), *RANGE, "--format", "csv"],
        "export.csv": [*export, "csv"],
        "export.parquet": [*export, "parquet"],
    }


WRITERS = list(_writers(Path("w")))


def _run_with_umask(umask: int, argv: list[str]) -> None:
    result = subprocess.run(
        cli(*argv),
        capture_output=True,
        cwd=ROOT,
        umask=umask,  # not a preexec_fn: unsafe in a process with threads
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, b""), result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=oct)
@pytest.mark.parametrize("name", WRITERS)
def test_a_new_output_file_gets_the_mode_the_umask_leaves(
    warehouse: Path, tmp_path: Path, name: str, umask: int
) -> None:
    out = tmp_path / name
    _run_with_umask(umask, [*_writers(warehouse)[name], "--output", str(out)])
    assert _mode(out) == 0o666 & ~umask


@pytest.mark.parametrize("mode", [0o644, 0o640], ids=oct)
@pytest.mark.parametrize("name", WRITERS)
def test_a_replaced_output_file_keeps_its_mode_under_a_strict_umask(
    warehouse: Path, tmp_path: Path, name: str, mode: int
) -> None:
    # Before: written under a temporary name and renamed over it, the file took the mode of
    # a new one: cron's umask 077 turned a report published 0644 for the web server into
    # 0600 on the next run, and the dashboard's user lost an export it read every day.
    out = tmp_path / name
    out.write_bytes(b"yesterday's")
    out.chmod(mode)
    _run_with_umask(0o077, [*_writers(warehouse)[name], "--output", str(out)])
    assert out.read_bytes() != b"yesterday's"
    assert _mode(out) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


@pytest.mark.parametrize("name", WRITERS)
def test_a_replaced_output_file_keeps_its_group_and_the_link_its_target(
    warehouse: Path, tmp_path: Path, name: str
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root may give a file to any group")
    published = tmp_path / "published"
    published.mkdir()
    target = published / name
    target.write_bytes(b"yesterday's")
    os.chown(target, -1, NOBODY)  # the dashboard's group
    target.chmod(0o640)
    link = tmp_path / f"link-{name}"
    link.symlink_to(target)
    _run_with_umask(0o077, [*_writers(warehouse)[name], "--output", str(link)])
    assert link.is_symlink()
    assert target.read_bytes() != b"yesterday's"
    assert (target.stat().st_gid, _mode(target)) == (NOBODY, 0o640)
