"""Reports and exports written to standard output: `--output -` and `/dev/stdout`, stdout
redirected to a file, a pipe or a socket, a reader that stops early or is slow (non-blocking
stdout), and closed or full standard streams after the work is done. Real DuckDB files, real
subprocesses and real pipes.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import (
    DAYS,
    FIRST,
    PER_DAY,
    build_five_day_warehouse,
    build_four_week_warehouse,
    build_three_day_warehouse,
    build_two_busy_days_warehouse,
    cli,
    event_count,
    five_day_spool,
)
from tests.support import ROOT
from tests.warehouse_support import (
    daily_totals_csv,
    events_for_days,
    write_events,
)

RANGE = ["--from", "2026-10-01", "--to", "2026-10-05"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_five_day_warehouse(tmp_path_factory.mktemp("five-days"))


def _done_commands(root: Path, db: Path) -> dict[str, list[str]]:
    return {
        "rollup": ["rollup", "--spool", str(five_day_spool(root)), "--db", str(db)],
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
    Warehouse(db).run(five_day_spool(root / "first"))
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
    proc = subprocess.Popen(cli(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the summary is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""
    if command == "rollup":
        assert event_count(db) == 2 * PER_DAY * len(DAYS)
    if command == "export":
        assert (tmp_path / "totals.csv").read_text().startswith("day,site,")


def _export_argv(db: Path, fmt: str, output: str, table: str = "daily_totals") -> list[str]:
    return cli("export", "--db", str(db), "--table", table, "--format", fmt, "--output", output)


def _run_redirected(argv: list[str], redirect: str) -> subprocess.CompletedProcess[str]:
    """`argv` run from ROOT by sh with `redirect` (`>&-`, `> /dev/full`, ...) applied to it."""
    return subprocess.run(
        ["sh", "-c", f"exec {' '.join(argv)} {redirect}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_a_rollup_with_closed_standard_streams_commits_and_exits_0(
    tmp_path: Path, closed: str
) -> None:
    # Cron (or a supervisor) may start the job with stdout or stderr closed. Before, Python
    # set sys.stdout to None and the run died after COMMIT on `None.flush()` (a traceback,
    # exit 1); with stderr closed, on `None.isatty()` before doing anything.
    db = tmp_path / "w.duckdb"
    argv = cli("rollup", "--spool", str(five_day_spool(tmp_path)), "--db", str(db))
    proc = _run_redirected(argv, closed)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr
    assert event_count(db) == PER_DAY * len(DAYS)


def test_a_rollup_whose_log_disk_is_full_still_commits_and_exits_0(tmp_path: Path) -> None:
    # `>> var/rollup.log` on a full disk (/dev/full: every write is ENOSPC). Before, the
    # flush after COMMIT raised OSError out of main: a traceback and exit 1.
    db = tmp_path / "w.duckdb"
    argv = cli("rollup", "--spool", str(five_day_spool(tmp_path)), "--db", str(db))
    proc = _run_redirected(argv, "> /dev/full")
    assert proc.returncode == 0
    assert proc.stderr == (
        "analytics: WARNING: the work is done, but its summary could not be printed: "
        "No space left on device\n"
    )
    assert event_count(db) == PER_DAY * len(DAYS)


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
    proc = _run_redirected(cli("report", "summary", "--db", str(warehouse), *RANGE), redirect)
    assert proc.returncode == 2
    assert proc.stderr == f"analytics: error: {message}\n"


def test_an_export_to_a_closed_stdout_is_one_line(warehouse: Path) -> None:
    proc = _run_redirected(_export_argv(warehouse, "csv", "-"), ">&-")
    assert proc.returncode == 2
    assert proc.stderr == "analytics: error: standard output is closed; give --output FILE\n"


FOUR_WEEKS = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_four_week_warehouse(tmp_path_factory.mktemp("four-weeks"))


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_stops_early_gets_no_traceback(db: Path, fmt: str) -> None:
    # `analytics report pages ... | head -1`: before, the closed pipe raised BrokenPipeError
    # out of the report (a traceback, exit 1) or, for a short report, out of the final
    # flush ("Exception ignored ... BrokenPipeError", exit 120).
    proc = subprocess.Popen(
        cli("report", "pages", "--db", str(db), *FOUR_WEEKS, "--format", fmt),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode == 1


@pytest.fixture(scope="module")
def three_day_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_three_day_warehouse(tmp_path_factory.mktemp("three-days"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_to_stdout_with_a_dash(three_day_warehouse: Path, tmp_path: Path, fmt: str) -> None:
    # `analytics export ... --output - | gzip`: before, a file named '-' appeared in the
    # current folder and stdout carried only the "exported" line.
    proc = subprocess.run(
        _export_argv(three_day_warehouse, fmt, "-"),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "-").exists()
    assert proc.stderr.decode().startswith("exported 6 rows of daily_totals to stdout")
    if fmt == "csv":
        assert proc.stdout.decode() == daily_totals_csv(three_day_warehouse)
    else:
        assert proc.stdout.startswith(b"PAR1")
        assert proc.stdout.endswith(b"PAR1")


def test_export_to_stdout_redirected_to_a_file(three_day_warehouse: Path, tmp_path: Path) -> None:
    # `analytics export ... --output - > totals.csv`
    out = tmp_path / "totals.csv"
    with out.open("wb") as handle:
        proc = subprocess.run(
            _export_argv(three_day_warehouse, "csv", "-"),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == daily_totals_csv(three_day_warehouse)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["totals.csv"]


def test_export_into_a_closed_pipe_is_quiet(three_day_warehouse: Path) -> None:
    proc = subprocess.Popen(
        _export_argv(three_day_warehouse, "csv", "-", table="events"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert err == ""


def test_report_output_dash_is_stdout(three_day_warehouse: Path, tmp_path: Path) -> None:
    # Before, `--output -` wrote a file named '-' (export and report now agree on '-').
    proc = subprocess.run(
        cli(
            "report",
            "summary",
            "--db",
            str(three_day_warehouse),
            "--from",
            str(FIRST),
            "--to",
            str(FIRST + timedelta(days=2)),
            "--format",
            "csv",
            "--output",
            "-",
        ),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("period,")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_two_busy_days_warehouse(tmp_path_factory.mktemp("small"))


def _exported_to_file(db: Path, fmt: str, folder: Path, table: str = "daily_totals") -> bytes:
    target = folder / f"reference.{fmt}"
    argv = _export_argv(db, fmt, str(target), table=table)
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    return target.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("shell_form", ["export >> file", "{ echo; export; echo; } > file"])
def test_an_export_to_stdout_redirected_to_a_file_keeps_what_the_file_holds(
    small_warehouse: Path, tmp_path: Path, fmt: str, shell_form: str
) -> None:
    # Before: DuckDB reopened /dev/fd/1 as a new file, truncated and from offset 0: `export
    # --output - >> all.csv` wiped what all.csv held, and in `{ echo header; export; } > f`
    # the export overwrote the header and what came after it overwrote the export.
    expected = _exported_to_file(small_warehouse, fmt, tmp_path)
    out = tmp_path / "out"
    out.write_bytes(b"earlier line\n")
    with out.open("ab" if shell_form.endswith(">> file") else "r+b") as handle:
        handle.seek(0, os.SEEK_END)
        handle.flush()
        proc = subprocess.run(
            _export_argv(small_warehouse, fmt, "-"),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
        handle.write(b"later line\n")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == b"earlier line\n" + expected + b"later line\n"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_to_stdout_that_is_a_socket_arrives(
    small_warehouse: Path, tmp_path: Path, fmt: str
) -> None:
    # A systemd service's stdout (journald), `ssh host analytics export ... --output -`: a
    # socket, which /dev/fd/1 cannot reopen. Before: "Cannot open file "/dev/fd/1"", exit 2.
    expected = _exported_to_file(small_warehouse, fmt, tmp_path)
    ours, theirs = socket.socketpair()
    received = bytearray()

    def receive() -> None:
        while chunk := ours.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    with ours, theirs:
        proc = subprocess.run(
            _export_argv(small_warehouse, fmt, "-"),
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
        theirs.shutdown(socket.SHUT_WR)
        reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert bytes(received) == expected


def test_an_export_of_many_rows_to_stdout_arrives_whole(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # More than a pipe's buffer (64 KiB), into a regular file.
    expected = _exported_to_file(small_warehouse, "csv", tmp_path, table="events")
    assert len(expected) > 65536
    out = tmp_path / "events.csv"
    with out.open("wb") as handle:
        proc = subprocess.run(
            _export_argv(small_warehouse, "csv", "-", table="events"),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == expected


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
@pytest.mark.parametrize("command", ["report", "export"])
def test_output_dev_stdout_appends_as_dash_does(
    small_warehouse: Path, tmp_path: Path, name: str, command: str
) -> None:
    # Before: `--output /dev/stdout >> log` opened stdout anew, truncating the log.
    if command == "report":
        argv = cli("report", "summary", "--db", str(small_warehouse), "--from", str(FIRST),
                   "--format", "csv")  # fmt: skip
    else:
        argv = _export_argv(small_warehouse, "csv", "-")[:-2]
    out = tmp_path / "log"
    outputs = []
    for output in ("-", name):
        out.write_bytes(b"earlier line\n")
        with out.open("ab") as handle:
            proc = subprocess.run(
                [*argv, "--output", output], stdout=handle, stderr=subprocess.PIPE, cwd=ROOT
            )
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_bytes())
    assert outputs[0].startswith(b"earlier line\n")
    assert len(outputs[0]) > len(b"earlier line\n") + 20
    assert outputs[1] == outputs[0]


def test_an_export_to_a_non_blocking_stdout_waits_for_the_reader(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # A parent may hand over a pipe in non-blocking mode (O_NONBLOCK belongs to the open pipe,
    # shared with the child): a full pipe must mean "wait", not "cannot write to stdout".
    expected = _exported_to_file(small_warehouse, "csv", tmp_path, table="events")
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(
        _export_argv(small_warehouse, "csv", "-", table="events"),
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(write_end)
    time.sleep(1.0)  # the pipe fills (64 KiB) long before the reader starts
    received = bytearray()
    with os.fdopen(read_end, "rb") as reader:
        while chunk := reader.read(65536):
            received.extend(chunk)
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert bytes(received) == expected


def test_a_report_to_a_non_blocking_stdout_waits_for_the_reader(tmp_path: Path) -> None:
    # As for export: a report bigger than the pipe, into a non-blocking stdout that is full,
    # used to end in "cannot write to standard output: Resource temporarily unavailable".
    events = [
        event._replace(path=f"/page/{i:05d}/{'x' * 40}", is_bot=False)
        for i, event in enumerate(events_for_days(random.Random(69), [FIRST], per_day=2000))
    ]
    spool = tmp_path / "spool"
    write_events(spool, events, per_segment=1000)
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(spool)
    day = str(FIRST)
    argv = cli("report", "pages", "--db", str(db), "--from", day, "--to", day, "--top", "5000",
               "--format", "csv")  # fmt: skip
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT)
    os.close(write_end)
    time.sleep(1.0)  # the pipe fills (64 KiB) long before the reader starts
    with os.fdopen(read_end, "rb") as reader:
        received = reader.read()
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert len(received) > 65536
    assert received.decode().splitlines()[0].startswith("path,")
    assert len(received.decode().splitlines()) == 2001
