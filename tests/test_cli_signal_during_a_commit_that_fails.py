"""A stop signal that reaches `rollup` or `prune` during a COMMIT that then really fails (a full
disk): the signal was noted, not obeyed, so it stopped nothing, and the command says what did
stop it, with the signal on the same line: exit 2, as README documents for a failed COMMIT.

Before (review r247 F1): `analytics: error: stopped by SIGTERM`, exit 143; the full disk was
never named, and cron's operator was left to look for whoever sent the signal.

Real parts: a small tmpfs that the process fills just before its COMMIT (a wrapper of
`Warehouse._commit`), and a real SIGTERM it sends itself there, which is handled as one sent
during COMMIT is (Python runs signal handlers between bytecodes, not inside DuckDB's call).
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import event_count
from tests.disk_support import mounted_tmpfs
from tests.support import ROOT
from tests.warehouse_support import events_for_days, write_events

PER_DAY = 300
# argv: the signal's number, then the command's. The disk is filled as the COMMIT begins.
SIGNALLED_AT_A_COMMIT_THAT_FAILS = """
import os, sys
from pathlib import Path
from analytics.cli import console_main
from analytics.warehouse import Warehouse

signum = int(sys.argv[1])
commit = Warehouse._commit

def fill_the_disk_then_commit(self, con):
    with open(Path(self.path).parent / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\\0" * 65536)
                filler.flush()
        except OSError:
            pass
    os.kill(os.getpid(), signum)
    commit(self, con)

Warehouse._commit = fill_the_disk_then_commit
sys.argv[1:] = sys.argv[2:]
sys.exit(console_main())
"""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spool of 20 days ago and yesterday (dated from the real today, as `prune` counts),
    and a warehouse of it rolled up."""
    root = tmp_path_factory.mktemp("pristine")
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=20), today - timedelta(days=1)]
    write_events(root / "spool", events_for_days(random.Random(253), days, PER_DAY))
    shutil.copytree(root / "spool", root / "ingested")
    Warehouse(root / "w.duckdb").run(root / "ingested")
    return root


@pytest.mark.parametrize("command", ["rollup", "prune"])
def test_a_signal_during_a_commit_that_fails_does_not_hide_the_failure(
    pristine: Path, tmp_path: Path, command: str
) -> None:
    with mounted_tmpfs(tmp_path / "disk", "8m") as disk:
        db = disk / "w.duckdb"
        if command == "prune":
            shutil.copyfile(pristine / "w.duckdb", db)
            argv = ["prune", "--db", str(db), "--raw-days", "5", "--no-compact"]
        else:
            spool = shutil.copytree(pristine / "spool", tmp_path / "spool")
            argv = ["rollup", "--spool", str(spool), "--db", str(db)]
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                SIGNALLED_AT_A_COMMIT_THAT_FAILS,
                str(signal.SIGTERM.value),
                *argv,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # Before: "analytics: error: stopped by SIGTERM", exit 143.
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == (
            f"analytics: error: cannot write the warehouse {str(db)!r}: No space left on "
            "device (SIGTERM came during the COMMIT, not obeyed)\n"
        )
        (disk / "filler").unlink()
        # Nothing committed: every raw event still there (none ingested, for the rollup).
        expected = 2 * PER_DAY if command == "prune" else 0
        assert (event_count(db) if db.exists() else 0) == expected
