"""Follow-ups of the warehouse review, on the CLI: each test pins a bug that was found and
fixed (the comment says what happened before), with real DuckDB files, real subprocesses,
real pipes and real named pipes."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.warehouse import Warehouse
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 10, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
RANGE = ["--from", "2026-10-01", "--to", "2026-10-05"]
PER_DAY = 30


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


def _spool(root: Path) -> Path:
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(7), DAYS, per_day=PER_DAY))
    return spool


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("followups")
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 10, 7, tzinfo=UTC))).run(_spool(root))
    return path


def _events(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        con.close()


# -- 1. report --output replaces the file whole, or leaves the previous one ------------------

PREVIOUS = "<!doctype html><title>last night's good report</title>\n"


def test_a_report_that_cannot_be_written_in_full_keeps_the_previous_file(
    warehouse: Path, tmp_path: Path
) -> None:
    # Cron rewrites a published report; the disk fills up halfway (here: a file size limit
    # of 4 KiB). Before, the report was written straight into the file: it was truncated
    # at once, and a 4 KiB torso of the new HTML replaced last night's good report.
    published = tmp_path / "report.html"
    published.write_text(PREVIOUS)
    limited = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from analytics.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["report", "pages", "--db", str(warehouse), *RANGE, "--format", "html"]
    proc = subprocess.run(
        [sys.executable, "-c", limited, *argv, "--output", str(published)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"analytics: error: cannot write {str(published)!r}")
    assert proc.stderr.count("\n") == 1
    assert published.read_text() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary left


@pytest.mark.parametrize("through_link", [False, True])
def test_a_report_replaces_the_previous_file_whole(
    warehouse: Path, tmp_path: Path, through_link: bool
) -> None:
    published = tmp_path / "site" / "report.csv"
    published.parent.mkdir()
    published.write_text(PREVIOUS)
    target = published
    if through_link:  # the web root links to the file cron writes: the link stays a link
        target = tmp_path / "current.csv"
        target.symlink_to(published)
    argv = ["report", "summary", "--db", str(warehouse), *RANGE, "--format", "csv"]
    assert main([*argv, "--output", str(target)]) == 0
    lines = published.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "period,pageviews,visitors,bot_hits"
    assert len(lines) == 1 + len(DAYS)
    assert target.is_symlink() == through_link
    assert sorted(p.name for p in published.parent.iterdir()) == ["report.csv"]
    # Readable as a file written in place would be (the umask's mode, not a private 0600).
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(published.stat().st_mode) == 0o666 & ~umask


def test_a_report_into_a_named_pipe_writes_through_it(warehouse: Path, tmp_path: Path) -> None:
    # Renaming a finished file over the FIFO would replace it, and its reader would get
    # nothing: a named pipe is written through, as `export` does.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    argv = ["report", "summary", "--db", str(warehouse), *RANGE, "--format", "json"]
    assert main([*argv, "--output", str(fifo)]) == 0
    reader.join(timeout=30)
    assert len(received) == 1
    assert received[0].lstrip().startswith(b"[")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# -- 2. a run that committed succeeds, whatever happens to its summary line ------------------


def _done_commands(root: Path, db: Path) -> dict[str, list[str]]:
    return {
        "rollup": ["rollup", "--spool", str(_spool(root)), "--db", str(db)],
        "prune": ["prune", "--db", str(db), "--raw-days", "30"],
        "export": [
            "export",
            "--db",
            str(db),
            "--table",
            "daily_totals",
            "--format",
            "csv",
            "--output",
            str(root / "totals.csv"),
        ],
    }


def _fresh_warehouse(root: Path) -> Path:
    db = root / "w.duckdb"
    Warehouse(db).run(_spool(root / "first"))
    return db


@pytest.mark.parametrize("command", ["rollup", "prune", "export"])
def test_a_closed_pipe_after_the_work_is_done_is_still_success(
    tmp_path: Path, command: str
) -> None:
    # `analytics rollup ... | head -0`, or a log reader that died: before, the summary line
    # met the closed pipe after COMMIT and the run exited 1, so cron reported a failure for
    # a run whose data was committed (and a retry found nothing to do).
    db = _fresh_warehouse(tmp_path)
    argv = _done_commands(tmp_path, db)[command]
    proc = subprocess.Popen(_cli(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the summary is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""
    if command == "rollup":
        assert _events(db) == 2 * PER_DAY * len(DAYS)
    if command == "export":
        assert (tmp_path / "totals.csv").read_text().startswith("day,site,")


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_a_rollup_with_closed_standard_streams_commits_and_exits_0(
    tmp_path: Path, closed: str
) -> None:
    # Cron (or a supervisor) may start the job with stdout or stderr closed. Before, Python
    # set sys.stdout to None and the run died after COMMIT on `None.flush()` (a traceback,
    # exit 1); with stderr closed, on `None.isatty()` before doing anything.
    db = tmp_path / "w.duckdb"
    argv = " ".join(_cli("rollup", "--spool", str(_spool(tmp_path)), "--db", str(db)))
    proc = subprocess.run(
        ["sh", "-c", f"exec {argv} {closed}"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr
    assert _events(db) == PER_DAY * len(DAYS)


def test_a_rollup_whose_log_disk_is_full_still_commits_and_exits_0(tmp_path: Path) -> None:
    # `>> var/rollup.log` on a full disk (/dev/full: every write is ENOSPC). Before, the
    # flush after COMMIT raised OSError out of main: a traceback and exit 1.
    db = tmp_path / "w.duckdb"
    argv = " ".join(_cli("rollup", "--spool", str(_spool(tmp_path)), "--db", str(db)))
    proc = subprocess.run(
        ["sh", "-c", f"exec {argv} > /dev/full"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stderr == (
        "analytics: WARNING: the work is done, but its summary could not be printed: "
        "No space left on device\n"
    )
    assert _events(db) == PER_DAY * len(DAYS)


@pytest.mark.parametrize(
    ("redirect", "message"),
    [
        (">&-", "standard output is closed; give --output FILE"),
        ("> /dev/full", "cannot write to standard output: No space left on device"),
    ],
)
def test_a_report_stdout_that_cannot_take_it_is_one_line(
    warehouse: Path, redirect: str, message: str
) -> None:
    # Before: AttributeError: 'NoneType' object has no attribute 'write' (closed), or the
    # OSError of the final flush (full): a traceback either way.
    argv = " ".join(_cli("report", "summary", "--db", str(warehouse), *RANGE))
    proc = subprocess.run(
        ["sh", "-c", f"exec {argv} {redirect}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"analytics: error: {message}\n"


def test_an_export_to_a_closed_stdout_is_one_line(warehouse: Path) -> None:
    argv = " ".join(
        _cli(
            "export",
            "--db",
            str(warehouse),
            "--table",
            "daily_totals",
            "--format",
            "csv",
            "--output",
            "-",
        )
    )
    proc = subprocess.run(
        ["sh", "-c", f"exec {argv} >&-"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == "analytics: error: standard output is closed; give --output FILE\n"


# -- 3. a spool entry named *.parquet that is not a file never blocks the rollup -------------


def _plant(folder: Path, kind: str) -> Path:
    odd = folder / f"0000000000000-odd-{kind}.parquet"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "link-to-fifo":
        fifo = folder.parent / "a-fifo"
        os.mkfifo(fifo)
        odd.symlink_to(fifo)
    elif kind == "folder":
        odd.mkdir()
    elif kind == "dangling-link":
        odd.symlink_to(folder / "gone.parquet")
    else:
        raise AssertionError(kind)
    return odd


@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "folder", "dangling-link"])
def test_a_spool_entry_that_is_not_a_file_is_skipped_with_one_line(
    tmp_path: Path, kind: str
) -> None:
    # A named pipe called *.parquet in a day folder (a tool streaming into the spool, or a
    # mistake): before, the footer read opened it and blocked for ever, and so did every
    # cron run after it, each holding the database lock. A folder or a dangling link was
    # "quarantined" as a corrupt segment.
    spool = _spool(tmp_path)
    day = spool / f"day={DAYS[0].isoformat()}"
    odd = _plant(day, kind)
    db = tmp_path / "w.duckdb"
    argv = _cli("rollup", "--spool", str(spool), "--db", str(db))
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ingested ")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("analytics: WARNING: skipped ")
    assert f"{day.name}/{odd.name}" in lines[0]
    assert "not a regular file" in lines[0]
    assert _events(db) == PER_DAY * len(DAYS)
    assert odd.is_symlink() or odd.exists()  # left alone: not ours to move or delete
    assert not (spool / "quarantine").exists()


# -- 4. the CLI as README documents it -------------------------------------------------------


def test_master_given_to_the_duckdb_rollup_is_an_error_even_with_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # README: "An option the chosen engine would ignore is an error, not silence: ...
    # `--output` and `--master` for `--engine spark`". Before, `--master local[2]` (the
    # default's value) passed in silence, unlike `--raw-days 90` or `--wait 10`.
    db = tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", str(_spool(tmp_path)), "--db", str(db), "--master", "local[2]"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "analytics: error: --master is for --engine spark\n"
    assert not db.exists()


# What README's CLI and Reports sections write for each option's value.
README_USAGE = {
    "rollup": [
        "--spool DIR",
        "--db FILE",
        "--timezone ZONE",
        "--raw-days N",
        "--archive DIR",
        "--delete-ingested",
        "--wait SECONDS",
        "--engine {duckdb,spark}",
        "--output DIR",
        "--master URL",
    ],
    "report": [
        "KIND",
        "--db FILE",
        "--site S",
        "--from DATE",
        "--to DATE",
        "--grain {day,week,month}",
        "--top N",
        "--compare",
        "--min-visitors K",
        "--format {table,csv,json,html}",
        "--output FILE",
    ],
    "export": ["--db FILE", "--table TABLE", "--format {parquet,csv}", "--output FILE"],
    "prune": ["--db FILE", "--raw-days N"],
}


@pytest.mark.parametrize("command", sorted(README_USAGE))
def test_help_names_every_option_the_way_readme_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, --help said `--top TOP`, `--from START`, `--raw-days RAW_DAYS`, `--db DB`,
    # `--format FORMAT` where README (the contract users read) says N, DATE, FILE and the
    # formats.
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in README_USAGE[command]:
        assert option in text, option
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for option in README_USAGE[command]:
        assert option.split()[0] in readme, option


def test_an_export_through_a_link_replaces_the_linked_file_and_keeps_the_link(
    warehouse: Path, tmp_path: Path
) -> None:
    # As `report --output` now does. Before, the finished export was renamed over the link
    # itself: `current.csv -> exports/2026-10.csv` became a plain file, and the file it
    # pointed at kept last month's data.
    published = tmp_path / "exports" / "totals.csv"
    published.parent.mkdir()
    published.write_text("stale\n")
    link = tmp_path / "current.csv"
    link.symlink_to(published)
    argv = ["export", "--db", str(warehouse), "--table", "daily_totals", "--format", "csv"]
    assert main([*argv, "--output", str(link)]) == 0
    assert link.is_symlink()
    assert published.read_text().startswith("day,site,pageviews,visitors,bot_hits\n")
    assert sorted(p.name for p in published.parent.iterdir()) == ["totals.csv"]
