"""`analytics.cli.main()` called by a program hands the `analytics` logger back as it found it.

Calling main() twice never doubled a line (the CLI's stderr handler is added once), but the
handler stayed on the `analytics` logger after main() returned, and the logger stayed at
WARNING: every later warning of the library in that program (a Warehouse run, a Recorder) was
written on stderr in the CLI's words, and a second time by the logging the program set up
afterwards (`logging.basicConfig()`: each line twice); a test suite saw one test's main() put
lines on a later test's stderr, and needed the level set back by hand to read INFO lines.

Two main() calls at once (worker threads) share the handler: the last one out hands it back.
When the first one to return took it, the other's warnings lost their `analytics: WARNING:`
prefix and escaping (review r305 F1)."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from analytics.cli import main
from tests.warehouse_support import events_for_days, write_events, writer_holding


class _Messages(logging.Handler):
    """The program's own logging: the messages it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_main_called_by_a_program_hands_the_analytics_logger_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("analytics")
    handlers, level = log.handlers[:], log.level
    (tmp_path / "spool").mkdir()
    typo = tmp_path / "salt"  # a --salt-dir that does not exist: a warning, exit 0
    argv = ["rollup", "--spool", str(tmp_path / "spool"), "--db", str(tmp_path / "w.duckdb")]
    for _ in range(2):  # a program that runs two commands: each says its warning once
        assert main([*argv, "--salt-dir", str(typo)]) == 0
        err = capsys.readouterr().err
        assert err.startswith(f"analytics: WARNING: --salt-dir {str(typo)!r} does not exist")
        assert err.count("\n") == 1
    assert (log.handlers, log.level) == (handlers, level)
    # The program sets up logging of its own afterwards: a library warning is its, once, and
    # not the CLI's line on stderr as well. (Its own handler: pytest's logging plugin, or
    # Python's last resort without one, must not decide this.)
    own = _Messages()
    logging.getLogger().addHandler(own)
    try:
        logging.getLogger("analytics.warehouse").warning("a warning of the library")
    finally:
        logging.getLogger().removeHandler(own)
    assert own.messages == ["a warning of the library"]
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # two lock waits
def test_two_main_calls_at_once_keep_the_cli_handler_until_both_return(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("analytics")
    handlers, level = log.handlers[:], log.level
    for name in ("a", "b"):
        write_events(tmp_path / name, events_for_days(random.Random(3), [date(2026, 11, 2)], 50))
    corrupt = sorted((tmp_path / "b").rglob("*.parquet"))[0]
    corrupt.write_bytes(b"garbage")  # b's rollup warns, after a's has returned
    codes: dict[str, int] = {}

    def rollup(name: str) -> None:
        db = str(tmp_path / f"{name}.duckdb")
        codes[name] = main(["rollup", "--spool", str(tmp_path / name), "--db", db, "--wait", "60"])

    threads = {name: threading.Thread(target=rollup, args=(name,)) for name in ("a", "b")}
    err = ""
    with (
        writer_holding(tmp_path / "a.duckdb") as holds_a,
        writer_holding(tmp_path / "b.duckdb") as holds_b,
    ):
        for thread in threads.values():
            thread.start()
        deadline = time.monotonic() + 30
        while err.count("analytics: waiting for another run") < 2:  # both are in main()
            assert time.monotonic() < deadline, err
            time.sleep(0.1)
            err += capsys.readouterr().err
        for holder, name in ((holds_a, "a"), (holds_b, "b")):  # a returns first, then b
            assert holder.stdin is not None
            holder.stdin.close()
            threads[name].join(timeout=60)
            assert not threads[name].is_alive()
    err += capsys.readouterr().err
    assert codes == {"a": 0, "b": 0}
    said = [line for line in err.splitlines() if "corrupt" in line]
    assert len(said) == 1
    assert said[0].startswith("analytics: WARNING: quarantined corrupt segment day=2026-11-02/")
    assert (log.handlers, log.level) == (handlers, level)
