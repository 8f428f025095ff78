"""A command that waits for another process's lock on the warehouse says so, once, on stderr,
after LOCK_WAIT_NOTICE_SECONDS, while it waits (not under --quiet). Before, a rollup behind
another one printed nothing for up to --wait seconds: a cron log or a user at the terminal
could not tell a busy file from a hung command."""

from __future__ import annotations

import logging
import random
import select
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import IO

import pytest

from analytics.cli import main
from analytics.database import LOCK_WAIT_NOTICE_SECONDS
from analytics.errors import WarehouseLockedError
from analytics.warehouse import Warehouse
from tests.cli_support import build_one_day_warehouse, cli
from tests.warehouse_support import events_for_days, write_events, writer_holding

WAITING = "analytics: waiting for another run to finish with 'w.duckdb' (up to {} s in all)\n"

COMMANDS = {
    "rollup": ["rollup", "--spool", "spool", "--db", "w.duckdb", "--wait", "30"],
    "prune": ["prune", "--db", "w.duckdb", "--raw-days", "30", "--wait", "30"],
    # export takes no --wait: the library's 10 s.
    "export": ["export", "--db", "w.duckdb", "--table", "daily_totals", "--format", "csv",
               "--output", "totals.csv"],
}  # fmt: skip


def _warehouse(root: Path) -> None:
    build_one_day_warehouse(root)  # root/w.duckdb, its spool ingested
    # Something new for the rollup to ingest once the lock is free.
    write_events(root / "spool", events_for_days(random.Random(9), [date(2026, 11, 2)], 5))


def _line_within(stream: IO[str] | None, seconds: float) -> str:
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_a_wait_for_the_lock_is_said_while_it_lasts(tmp_path: Path, command: str) -> None:
    _warehouse(tmp_path)
    with writer_holding(tmp_path / "w.duckdb") as holder:
        started = time.monotonic()
        with subprocess.Popen(
            cli(*COMMANDS[command]), cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ) as proc:  # fmt: skip
            try:
                # Said while the other process still holds the file, not after.
                line = _line_within(proc.stderr, 8)
                assert line == WAITING.format(10 if command == "export" else 30)
                assert time.monotonic() - started >= LOCK_WAIT_NOTICE_SECONDS
                assert proc.poll() is None
            finally:
                assert holder.stdin is not None
                holder.stdin.close()  # the other run is over: this one goes on
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == ""  # once, not once per retry
    assert out != ""  # and its summary as ever


@pytest.mark.slow
def test_quiet_says_nothing_of_the_wait(tmp_path: Path) -> None:
    _warehouse(tmp_path)
    with writer_holding(tmp_path / "w.duckdb") as holder, subprocess.Popen(
        cli(*COMMANDS["rollup"], "--quiet"), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        time.sleep(LOCK_WAIT_NOTICE_SECONDS + 1.5)
        assert proc.poll() is None  # still waiting
        assert holder.stdin is not None
        holder.stdin.close()
        out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "", "")


def test_no_wait_no_line(tmp_path: Path) -> None:
    _warehouse(tmp_path)
    done = subprocess.run(
        cli(*COMMANDS["rollup"]), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.slow
def test_main_in_a_program_says_the_wait_once_and_puts_its_logging_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program that calls main() got the line twice (its own root handler took it too,
    whatever the root logger's level), and after main() every library wait was still said
    (review r286 F3): the logger was left at INFO."""
    _warehouse(tmp_path)
    monkeypatch.chdir(tmp_path)
    programs = _Lines()  # the program's own handler; its root logger stays at WARNING
    logging.getLogger().addHandler(programs)
    try:
        with writer_holding(tmp_path / "w.duckdb"):
            argv = ["prune", "--db", "w.duckdb", "--raw-days", "30", "--wait", "2"]
            assert main(argv) == 1
            assert capsys.readouterr().err == WAITING.format(2) + (
                "analytics: error: database 'w.duckdb' is in use by another process "
                "(waited 2 s); try again when it has finished\n"
            )
            assert programs.lines == []  # said once, by the CLI
            with pytest.raises(WarehouseLockedError):
                Warehouse("w.duckdb", lock_timeout=2).run("spool")
        assert capsys.readouterr().err == ""  # the library waits in silence, as before main()
        assert programs.lines == []
    finally:
        logging.getLogger().removeHandler(programs)
