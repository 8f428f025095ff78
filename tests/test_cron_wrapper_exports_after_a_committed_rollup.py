"""examples/cron/rollup.sh exports after every rollup that committed its counts, warnings
included (3: segments not archived, 4: segments of a newer event schema left, 5: not
compacted), and still exits with the rollup's code so that cron mails; a rollup that
committed nothing (1, 2) or was stopped (130) leaves the last export as it was.

Before, the wrapper ran under a bare `set -e`: a rollup exiting 4 skipped the export on every
run until cookiewall was upgraded, and the analysts' Parquet silently went stale.

Exits 2, 3 and 4 are made for real (a spool that is a file, a file where an archive day
folder goes, a segment of event schema 2). 1, 5 and 130 are hard to make on demand: for
those, PYTHON is a small shell script that runs the real rollup, then exits with the code
asked for; the export it runs is the real one."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spool import write_segment
from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events

WRAPPER = ROOT / "examples" / "cron" / "rollup.sh"
# Recent days: the wrapper's rollup prunes raw events older than 90 days by the real clock.
FIRST = date.today() - timedelta(days=6)
SECOND = FIRST + timedelta(days=1)


def _wrapper(var: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COOKIEWALL_VAR": str(var), "PYTHON": python}
    return subprocess.run(
        ["bash", str(WRAPPER)], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _exported_days(var: Path) -> set[date]:
    table = pq.read_table(var / "daily_referrers.parquet")
    return set(table.column("day").to_pylist())


def _site_exported_once(var: Path) -> None:
    """`var` after a clean wrapper run: FIRST rolled up and exported."""
    write_events(var / "spool", events_for_days(random.Random(1), [FIRST], per_day=30))
    done = _wrapper(var)
    assert done.returncode == 0, done.stderr
    assert _exported_days(var) == {FIRST}


def _newer_segment(spool: Path) -> None:
    """A segment as a newer cookiewall's web worker writes it: event schema 2."""
    path = write_segment(spool, SECOND, to_table(events_for_days(random.Random(9), [SECOND], 5)))
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: b"2"}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")


def test_exit_4_newer_segments_left_still_exports_and_keeps_the_code(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _site_exported_once(var)
    write_events(var / "spool", events_for_days(random.Random(2), [SECOND], per_day=30))
    _newer_segment(var / "spool")
    for run in range(2):  # every run until the upgrade: each one exports
        done = _wrapper(var)
        assert done.returncode == 4, (run, done.stderr)
        assert "newer" in done.stderr
        assert _exported_days(var) == {FIRST, SECOND}, run


def test_exit_3_segments_not_archived_still_exports_and_keeps_the_code(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _site_exported_once(var)
    write_events(var / "spool", events_for_days(random.Random(2), [SECOND], per_day=30))
    (var / "archive" / f"day={SECOND.isoformat()}").write_text("in the day folder's place\n")
    done = _wrapper(var)
    assert done.returncode == 3, done.stderr
    assert "could not move" in done.stderr
    assert _exported_days(var) == {FIRST, SECOND}
    assert list((var / "spool").glob(f"day={SECOND.isoformat()}/*.parquet"))


def test_exit_2_skips_the_export_and_keeps_the_last_one(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _site_exported_once(var)
    before = (var / "daily_referrers.parquet").stat().st_mtime_ns
    archived = var / "archive"
    os.rename(var / "spool", tmp_path / "old-spool")
    (var / "spool").write_text("not a folder\n")
    done = _wrapper(var)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("analytics: error:")
    assert done.stderr.count("\n") == 1  # the rollup's line only: no export ran
    assert (var / "daily_referrers.parquet").stat().st_mtime_ns == before
    assert archived.is_dir()


def _python_exiting_after_rollup(folder: Path, code: int) -> str:
    """A PYTHON for the wrapper: the real interpreter, except that `-m analytics rollup`
    exits with `code` once the real rollup has run."""
    script = folder / f"python-rollup-exits-{code}"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$3" = rollup ]; then "{sys.executable}" "$@"; exit {code}; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(("code", "exports"), [(5, True), (1, False), (130, False)])
def test_the_rollups_code_decides_the_export_and_is_the_wrappers_code(
    tmp_path: Path, code: int, exports: bool
) -> None:
    var = tmp_path / "var"
    _site_exported_once(var)
    write_events(var / "spool", events_for_days(random.Random(2), [SECOND], per_day=30))
    done = _wrapper(var, python=_python_exiting_after_rollup(tmp_path, code))
    assert done.returncode == code, done.stderr
    # The rollup committed SECOND either way: only an export shows it to the analysts.
    assert _exported_days(var) == ({FIRST, SECOND} if exports else {FIRST})


def test_a_failed_export_after_exit_4_exits_with_the_exports_code(tmp_path: Path) -> None:
    var = tmp_path / "var"
    _site_exported_once(var)
    _newer_segment(var / "spool")
    (var / "daily_referrers.parquet").unlink()
    (var / "daily_referrers.parquet").mkdir()  # the export's --output is a folder: error 2
    done = _wrapper(var)
    assert done.returncode == 2, done.stderr
    assert "newer" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("analytics: error:")
