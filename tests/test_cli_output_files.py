"""`--output FILE` of reports and exports: the previous file is replaced whole or kept, a
symbolic link keeps pointing at the new file, a named pipe is written through, and the
database itself is never an output.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from tests.cli_support import (
    DAYS,
    build_five_day_warehouse,
    build_one_day_warehouse,
    build_three_day_warehouse,
)
from tests.support import ROOT
from tests.warehouse_support import (
    daily_totals_csv,
    table_rows,
)

RANGE = ["--from", "2026-10-01", "--to", "2026-10-05"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_five_day_warehouse(tmp_path_factory.mktemp("five-days"))


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


@pytest.fixture(scope="module")
def three_day_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_three_day_warehouse(tmp_path_factory.mktemp("three-days"))


@pytest.mark.parametrize("through_link", [False, True])
def test_export_into_a_named_pipe_writes_through_it(
    three_day_warehouse: Path, tmp_path: Path, through_link: bool
) -> None:
    # `--output /dev/stdout` or a FIFO: before, the export wrote a temporary file next to it
    # and renamed it over the FIFO (or, run as root, over /dev/stdout itself): the reader got
    # nothing and the device was gone.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = fifo
    if through_link:
        target = tmp_path / "stdout-like"
        target.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code = main(
        [
            "export",
            "--db",
            str(three_day_warehouse),
            "--table",
            "daily_totals",
            "--format",
            "csv",
            "--output",
            str(target),
        ]
    )
    reader.join(timeout=30)
    assert code == 0
    assert received == [daily_totals_csv(three_day_warehouse).encode()]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert target.is_symlink() == through_link


def _leave_a_pending_journal(db: Path) -> None:
    """Committed work left in `db`'s journal `<db>.wal`, as a run killed before its
    checkpoint, or one on a full disk, leaves it: every open replays it."""
    con = duckdb.connect(str(db))
    try:
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute("DELETE FROM daily_totals WHERE pageviews > 0")
    finally:
        con.close()
    assert Path(f"{db}.wal").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "summary", "--db", "DB", "--output", "OUT"],
        ["export", "--db", "DB", "--table", "daily_totals", "--format", "csv", "--output", "OUT"],
        ["export", "--db", "DB", "--table", "events", "--format", "parquet", "--output", "OUT"],
    ],
)
@pytest.mark.parametrize(
    ("output", "journal_pending", "part"),
    [
        ("w.duckdb", False, "the database itself"),
        ("w.duckdb.wal", False, "the database's journal"),
        ("w.duckdb.wal", True, "the database's journal"),
        ("journal-link", True, "the database's journal"),
    ],
    ids=["database", "journal-none-yet", "journal-pending", "link-to-journal"],
)
def test_output_onto_the_database_or_its_journal_is_refused(
    tmp_path: Path,
    argv: list[str],
    output: str,
    journal_pending: bool,
    part: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: a slip of the tab key replaced the warehouse with the report or the export,
    # exit 0; every raw event and rollup was gone. Onto its journal (walkthrough h240 F9),
    # the committed work pending there was lost, or the report became a journal to replay.
    db = build_one_day_warehouse(tmp_path)
    assert db.name == "w.duckdb"
    journal = Path(f"{db}.wal")
    if journal_pending:
        _leave_a_pending_journal(db)
    (tmp_path / "journal-link").symlink_to(journal)
    files = {path: path.read_bytes() for path in (db, journal) if path.exists()}
    before = table_rows(db, "daily_totals")
    out = str(tmp_path / output)

    assert main([str(db) if arg == "DB" else out if arg == "OUT" else arg for arg in argv]) == 2
    assert capsys.readouterr().err == (
        f"analytics: error: output {out!r} is {part}; choose another file\n"
    )
    assert {path: path.read_bytes() for path in (db, journal) if path.exists()} == files
    assert table_rows(db, "daily_totals") == before


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "summary", "--db", "DB", "--output", ""],
        ["export", "--db", "DB", "--table", "daily_totals", "--format", "csv", "--output", ""],
    ],
    ids=["report", "export"],
)
def test_an_empty_output_name_is_said_as_such(
    warehouse: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: an unset shell variable, --output "$OUT", became "." and was refused as
    # "cannot write '.': it is a folder", a name nobody gave.
    assert main([str(warehouse) if arg == "DB" else arg for arg in argv]) == 2
    assert capsys.readouterr().err == (
        f"analytics: error: argument --output: an empty file name (see 'analytics {argv[0]} "
        "--help')\n"
    )
