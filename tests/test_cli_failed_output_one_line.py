"""A report or export whose output cannot be written ends in one error line, and one whose
output is a device or a named pipe is written by any user.

Before: `report --output /dev/full` (or `> /dev/full`) printed its WARNING (the default
range ends before the only data, an unknown --site) and then the error, two lines for one
failure, the first of them about rows nobody got. Now the warnings follow a report that was
written. And `report`/`export --output /dev/null` (or /dev/full, a FIFO in a folder the user
may not write) were refused for every user but root ("folder '/dev' is not writable for this
user"): a device or a pipe is written through, not replaced, so its folder does not matter.
Real warehouse, real `analytics` processes, the kernel's /dev/full, user 65534 via setpriv.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.support import as_nobody
from tests.warehouse_support import events_for_days, fixed_clock, write_events

# Data two days ahead of today only: the default range (ending yesterday) holds none, so
# the report warns, whenever the test runs (midnight passing included).
AHEAD = datetime.now(UTC).date() + timedelta(days=2)
RANGE_WARNING = "analytics: WARNING: no pageviews from "
SITE_WARNING = "analytics: WARNING: no data for site 'nope' in this database"
FULL = "analytics: error: cannot write '/dev/full': No space left on device"
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


@pytest.fixture(scope="module")
def open_root() -> Iterator[Path]:
    """A scratch folder anyone may enter (tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="cw-failed-output-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def db(open_root: Path) -> Path:
    write_events(open_root / "spool", events_for_days(random.Random(5), [AHEAD], per_day=20))
    db = open_root / "w.duckdb"
    noon = datetime(AHEAD.year, AHEAD.month, AHEAD.day, 12, tzinfo=UTC)
    Warehouse(db, clock=fixed_clock(noon)).run(open_root / "spool")
    db.chmod(0o644)
    return db


def _run(argv: list[str], *, cwd: Path, nobody: bool = False) -> subprocess.CompletedProcess[str]:
    command, env = as_nobody(argv) if nobody else (argv, None)
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False
    )


def _the_one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # no WARNING with it
    return result.stderr.rstrip("\n")


@needs_dev_full
@pytest.mark.parametrize(
    "warned",
    [[], ["--site", "nope"], ["--format", "csv"], ["--format", "html"]],
    ids=["range", "site", "csv", "html"],
)
def test_a_report_that_cannot_be_written_says_only_that(
    db: Path, tmp_path: Path, warned: list[str]
) -> None:
    result = _run(
        cli("report", "pages", "--db", str(db), *warned, "--output", "/dev/full"), cwd=tmp_path
    )
    assert _the_one_error(result) == FULL


@needs_dev_full
def test_a_report_to_a_full_stdout_says_only_that(db: Path, tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            cli("report", "pages", "--db", str(db), "--site", "nope"),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    expected = "analytics: error: cannot write to standard output: No space left on device"
    assert _the_one_error(result) == expected


@pytest.mark.parametrize(
    ("warned", "warning"),
    [([], RANGE_WARNING), (["--site", "nope"], SITE_WARNING)],
    ids=["range", "site"],
)
def test_a_written_report_still_warns_once(
    db: Path, tmp_path: Path, warned: list[str], warning: str
) -> None:
    out = tmp_path / "r.txt"
    result = _run(
        cli("report", "pages", "--db", str(db), *warned, "--output", str(out)), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(warning), result.stderr
    assert out.read_text().startswith("Pages")
    if warning == RANGE_WARNING:
        assert f"--to {AHEAD}" in lines[0]  # the advice still names the day of the data


REPORT = ["report", "pages", "--from", str(AHEAD), "--to", str(AHEAD), "--format", "csv"]
EXPORT = ["export", "--table", "daily_pages", "--format", "csv"]


@pytest.mark.parametrize("argv", [REPORT, EXPORT], ids=["report", "export"])
def test_any_user_may_write_to_dev_null(db: Path, tmp_path: Path, argv: list[str]) -> None:
    result = _run(cli(*argv, "--db", str(db), "--output", "/dev/null"), cwd=tmp_path, nobody=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_dev_full
@pytest.mark.parametrize("argv", [REPORT, EXPORT], ids=["report", "export"])
def test_any_user_gets_the_devices_own_reason(db: Path, tmp_path: Path, argv: list[str]) -> None:
    result = _run(cli(*argv, "--db", str(db), "--output", "/dev/full"), cwd=tmp_path, nobody=True)
    assert _the_one_error(result) == FULL


@pytest.mark.parametrize("argv", [REPORT, EXPORT], ids=["report", "export"])
def test_a_named_pipe_in_a_folder_the_user_may_not_write(
    db: Path, tmp_path: Path, argv: list[str]
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="locked-", dir=db.parent))
    folder.chmod(0o755)
    pipe = folder / "feed"
    os.mkfifo(pipe)
    os.chmod(pipe, 0o666)  # noqa: S103 - user 65534 writes it: the point of the test
    folder.chmod(0o555)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    try:
        result = _run(cli(*argv, "--db", str(db), "--output", str(pipe)), cwd=tmp_path, nobody=True)
    finally:
        if reader.is_alive():  # the CLI never opened it: let the reader go
            with open(pipe, "wb"):
                pass
        reader.join(10)
    assert result.returncode == 0, result.stderr
    header = received[0].split(b"\n", 1)[0]
    assert header == (
        b"path,pageviews,visitors" if argv is REPORT else b"day,site,path,pageviews,visitors"
    ), received


def test_a_name_under_dev_that_does_not_exist_names_the_folder(db: Path, tmp_path: Path) -> None:
    name = f"/dev/no-such-device-{os.getpid()}"
    result = _run(cli(*REPORT, "--db", str(db), "--output", name), cwd=tmp_path, nobody=True)
    expected = (
        f"analytics: error: cannot write {name!r}: folder '/dev' is not writable for this user"
    )
    assert _the_one_error(result) == expected
