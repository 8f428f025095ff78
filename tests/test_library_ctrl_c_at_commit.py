"""A Ctrl-C that DuckDB reports as its RuntimeError "Query interrupted" (a program with
Python's own SIGINT handler), landing at a run's COMMIT or in a Spark load's queries, is the
KeyboardInterrupt it was, and the file holds what the read-back says: committed, rolled back,
or not known (a busy file: a warning says so). Placed at the exact statement by wrapping the
connection, so the test never depends on timing; tests/test_library_ctrl_c_after_commit.py
sends real signals at the checkpoint after COMMIT. (Suggested by review r267: before it, each
of these branches could be removed with every test passing.)"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics import database, spark
from analytics.database import SIGNAL_INTERRUPTED
from analytics.warehouse import Warehouse
from tests import test_warehouse_commit_that_raises_after_committing as commit_support
from tests.warehouse_support import events_for_days, spark_style_output, write_events


class _CtrlCAtCommit(commit_support._CommitThatRaises):
    """The COMMIT takes effect (or is rolled back), then DuckDB reports the Ctrl-C."""

    def execute(self, sql: str, *args: Any) -> Any:
        if sql != "COMMIT":
            return self._con.execute(sql, *args)
        self._con.execute("COMMIT" if self._committed else "ROLLBACK")
        raise RuntimeError(SIGNAL_INTERRUPTED)


@pytest.mark.parametrize(
    ("committed", "readable", "warned"),
    [(True, True, False), (False, True, False), (True, False, True)],
    ids=["committed", "rolled back", "busy file"],
)
def test_a_ctrl_c_at_commit_is_a_keyboard_interrupt_and_the_file_says_what_happened(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    committed: bool,
    readable: bool,
    warned: bool,
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    spool.mkdir()
    Warehouse(db).run(spool)
    day, events = commit_support.DAY, commit_support.EVENTS
    write_events(spool, events_for_days(random.Random(8), [day], events), 40)
    real_open = Warehouse._open
    monkeypatch.setattr(
        Warehouse,
        "_open",
        lambda self: _CtrlCAtCommit(
            real_open(self), self.path, committed=committed, journal_left=False
        ),
    )
    if not readable:
        commit_support._busy_for_readers(monkeypatch)
    with caplog.at_level(logging.WARNING, "analytics"), pytest.raises(KeyboardInterrupt):
        Warehouse(db, raw_retention_days=36500).run(spool)
    monkeypatch.undo()
    assert ("stopped during its COMMIT" in caplog.text) == warned
    expected = events if committed else 0
    assert commit_support._count(db, "SELECT COUNT(*) FROM events") == expected


def test_a_ctrl_c_in_a_spark_load_before_commit_is_a_keyboard_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = events_for_days(random.Random(1), [date(2026, 10, 1)], 50)
    output = spark_style_output(tmp_path, events, datetime.now(UTC))
    real_connect = database.connect  # what `spark.connect` is

    class CtrlCInAnInsert:
        def __init__(self, con: Any) -> None:
            self._con = con

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("INSERT INTO daily_"):
                raise RuntimeError(SIGNAL_INTERRUPTED)
            return self._con.execute(sql, *args)

    monkeypatch.setattr(spark, "connect", lambda *a, **k: CtrlCInAnInsert(real_connect(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        spark.load_spark_rollups(output, tmp_path / "s.duckdb")
