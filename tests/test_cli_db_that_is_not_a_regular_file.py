"""A `--db` that is there but is no file a database can be: a named pipe, a socket, a device.

Before: `rollup` with a named pipe as --db blocked for ever inside DuckDB's open (no lock is
involved, so --wait never ended it: cron's runs piled up); `report`, `export` and `prune` said
the pipe "does not exist (run `analytics rollup` first)", advice that led to that hang; a
socket, /dev/null or /dev/zero got the same words, or DuckDB's ("Could not fsync"). The
dashboard, whose copy ATTACHes the file, blocked the same way on a pipe as db_path, and every
later refresh with it. Now all say what it is in one line, found by `stat`, before any open.

Real processes, as cron runs them: the CLI in a process of its own, with a deadline, so that
a hang is a failure, not a test that never ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.errors import WarehouseError
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.dashboard_support import app_for, get
from tests.support import ROOT

DEADLINE = 60.0  # seconds; a refusal takes one interpreter start


def _named_pipe(path: Path) -> Path:
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def _socket_at(path: Path) -> Iterator[Path]:
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(path))
        yield path
    finally:
        listener.close()


@contextlib.contextmanager
def _pipe_opened_after(pipe: Path, seconds: float) -> Iterator[None]:
    """After `seconds`, keep opening the other end of `pipe` until the block ends, so that an
    in-process open blocked on it (the old code) returns and the test fails instead of
    hanging. O_RDWR never blocks on Linux and counts as a reader and a writer."""
    done = threading.Event()

    def unblock() -> None:
        if done.wait(seconds):
            return
        while not done.is_set():
            with contextlib.suppress(OSError):
                os.close(os.open(pipe, os.O_RDWR | os.O_NONBLOCK))
            done.wait(0.05)

    helper = threading.Thread(target=unblock, daemon=True)
    helper.start()
    try:
        yield
    finally:
        done.set()
        helper.join()


COMMANDS = {
    "rollup": ("rollup", "--spool", "{spool}", "--db", "{db}", "--wait", "1"),
    "report": ("report", "summary", "--db", "{db}"),
    "export": ("export", "--db", "{db}", "--table", "daily_totals", "--format", "csv",
               "--output", "{out}"),
    "prune": ("prune", "--db", "{db}", "--raw-days", "3"),
    # compact said "is not a regular file" alone, not what it is (walkthrough h240 F7).
    "compact": ("compact", "--db", "{db}", "--wait", "1"),
}  # fmt: skip


def _run(command: str, db: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "spool").mkdir(exist_ok=True)
    paths = {"db": str(db), "spool": str(tmp_path / "spool"), "out": str(tmp_path / "e.csv")}
    argv = [arg.format(**paths) for arg in COMMANDS[command]]
    started = time.monotonic()
    try:
        done = subprocess.run(
            cli(*argv),
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`analytics {command}` with a special file as --db hung ({DEADLINE:g} s)")
    return done, time.monotonic() - started


def _refused(done: subprocess.CompletedProcess[str], db: Path, kind: str) -> None:
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"analytics: error: database {str(db)!r} is not a regular file ({kind})\n"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_named_pipe_as_db_is_named_by_every_command_at_once(tmp_path: Path, command: str) -> None:
    pipe = _named_pipe(tmp_path / "analytics.duckdb")
    done, _ = _run(command, pipe, tmp_path)
    _refused(done, pipe, "a named pipe")
    assert not (tmp_path / "e.csv").exists()
    assert sorted(os.listdir(tmp_path)) == ["analytics.duckdb", "spool"]  # no journal, no copy


@pytest.mark.parametrize("command", ["rollup", "report", "compact"])
def test_a_socket_as_db_is_named(tmp_path: Path, command: str) -> None:
    with _socket_at(tmp_path / "w.sock") as path:
        done, _ = _run(command, path, tmp_path)
    _refused(done, path, "a socket")


@pytest.mark.parametrize("command", ["rollup", "report", "prune", "compact"])
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_as_db_is_named(tmp_path: Path, command: str, device: str) -> None:
    done, _ = _run(command, Path(device), tmp_path)
    _refused(done, Path(device), "a device")


def test_a_link_to_a_named_pipe_is_named_too(tmp_path: Path) -> None:
    pipe = _named_pipe(tmp_path / "pipe")
    (tmp_path / "analytics.duckdb").symlink_to(pipe)
    done, _ = _run("rollup", tmp_path / "analytics.duckdb", tmp_path)
    _refused(done, tmp_path / "analytics.duckdb", "a named pipe")


def test_warehouse_from_python_refuses_a_named_pipe(tmp_path: Path) -> None:
    pipe = _named_pipe(tmp_path / "analytics.duckdb")
    (tmp_path / "spool").mkdir()
    started = time.monotonic()
    with _pipe_opened_after(pipe, 10.0), pytest.raises(WarehouseError) as raised:
        Warehouse(pipe, lock_timeout=0).run(tmp_path / "spool")
    assert time.monotonic() - started < 10.0  # refused, not freed by the helper
    assert str(raised.value) == f"database {str(pipe)!r} is not a regular file (a named pipe)"


def test_the_dashboard_answers_503_for_a_named_pipe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = _named_pipe(tmp_path / "analytics.duckdb")
    app = app_for(pipe)
    started = time.monotonic()
    with (
        _pipe_opened_after(pipe, 10.0),
        caplog.at_level(logging.WARNING, logger="analytics.dashboard"),
    ):
        responses = [get(app, url) for url in ("/api/sites", "/", "/api/sites")]
    assert time.monotonic() - started < 10.0  # answered, not freed by the helper
    for response in responses:
        assert response.status_code == 503
        assert "cannot be read" in response.text
        assert str(tmp_path) not in response.text  # the path is for the server's log only
    said = [r.getMessage() for r in caplog.records if r.name == "analytics.dashboard"]
    assert said == [f"dashboard cannot use {str(pipe)!r}: not a regular file (a named pipe)"]


def _warehouse_with_a_pipe_as_its_journal(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "analytics.duckdb"
    (tmp_path / "spool").mkdir()
    Warehouse(db).run(tmp_path / "spool")
    assert not Path(f"{db}.wal").exists()  # checkpointed at the end of the run
    return db, _named_pipe(Path(f"{db}.wal"))


@pytest.mark.parametrize("command", ["rollup", "report"])
def test_a_named_pipe_as_the_journal_is_named_too(tmp_path: Path, command: str) -> None:
    """DuckDB opens `<db>.wal` whenever it is there: a pipe there hung the open as one at
    the database's own path did (review r249)."""
    db, journal = _warehouse_with_a_pipe_as_its_journal(tmp_path)
    done, _ = _run(command, db, tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"analytics: error: database {str(db)!r}: its journal {str(journal)!r} is not a "
        "regular file (a named pipe)\n"
    )


def test_the_dashboard_answers_503_for_a_named_pipe_as_the_journal(tmp_path: Path) -> None:
    db, journal = _warehouse_with_a_pipe_as_its_journal(tmp_path)
    app = app_for(db)
    started = time.monotonic()
    with _pipe_opened_after(journal, 10.0):
        response = get(app, "/api/sites")
    assert time.monotonic() - started < 10.0  # answered, not freed by the helper
    assert response.status_code == 503
