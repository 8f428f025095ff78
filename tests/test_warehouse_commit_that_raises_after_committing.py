"""A COMMIT that raises is read back, not taken at its word.

DuckDB's COMMIT can commit and then raise: the checkpoint it runs right after a commit fails
(a full disk), and the error says "Transaction COMMIT succeeded and is durable, but the
autocheckpoint failed" (duckdb PR #23510). The same checkpoint failing before a bulk write
is durable says "Failed to create checkpoint", and nothing is committed. Before, both were
"cannot write the warehouse …" with exit 2, documented as "nothing was committed": a
committed rollup said so, and left its segments unarchived.

Here a connection wrapper around the real DuckDB connection runs the real COMMIT (or, for
the failure before the commit, a real ROLLBACK) and then raises DuckDB's own error for
that case; the warehouse, the segments and the CLI are real.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import warehouse
from analytics.cli import main
from analytics.errors import WarehouseError, WarehouseLockedError
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 2)
EVENTS = 120


class _CommitThatRaises:
    """A DuckDB connection whose COMMIT fails as a full disk makes it: after the commit
    (`committed`, the COMMIT is run) or before it (a ROLLBACK is run instead)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db: Path, *, committed: bool) -> None:
        self._con = con
        self._db = db
        self._committed = committed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.strip().upper() != "COMMIT":
            return self._con.execute(sql, *args, **kwargs)
        self._con.execute("COMMIT" if self._committed else "ROLLBACK")
        cause = (
            f'Failed to create checkpoint because of error: Could not write file "{self._db}": '
            "No space left on device"
        )
        if self._committed:
            cause = (
                "Transaction COMMIT succeeded and is durable, but the autocheckpoint failed. "
                f"Reopen the database instance to recover. {cause}"
            )
        raise duckdb.FatalException(f"FATAL Error: {cause}")


def _fail_commits(monkeypatch: pytest.MonkeyPatch, *, committed: bool) -> None:
    real_open = Warehouse._open

    def faulty_open(self: Warehouse) -> Any:
        return _CommitThatRaises(real_open(self), self.path, committed=committed)

    monkeypatch.setattr(Warehouse, "_open", faulty_open)


def _count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(sql).fetchall()[0][0])


def _warning(db: Path) -> str:
    return (
        "analytics: WARNING: the run was committed, but the checkpoint after its COMMIT "
        f"failed: No space left on device; the committed work stays in the journal "
        f"'{db}.wal' until a later run's checkpoint succeeds"
    )


def _error(db: Path) -> str:
    return f"analytics: error: cannot write the warehouse '{db}': No space left on device"


@pytest.mark.parametrize("committed", [True, False], ids=["after the commit", "before it"])
def test_a_rollup_whose_commit_raises_exits_as_what_the_file_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    committed: bool,
) -> None:
    spool, archive, db = tmp_path / "spool", tmp_path / "archive", tmp_path / "w.duckdb"
    spool.mkdir()
    Warehouse(db).run(spool)  # the tables, committed before the fault
    segments = write_events(spool, events_for_days(random.Random(3), [DAY], EVENTS), 40)
    rollup = ["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)]

    _fail_commits(monkeypatch, committed=committed)
    code = main(rollup)
    monkeypatch.undo()
    out, err = capsys.readouterr()
    left = len(list(spool.rglob("*.parquet")))
    if committed:
        # Before: exit 2, "cannot write the warehouse …", every segment left in the spool.
        assert (code, err.splitlines()) == (0, [_warning(db)])
        assert out == (
            f"ingested {segments} segments ({EVENTS} events, 1 days); rolled up 1 days; "
            "pruned 0 raw events\n"
        )
        assert (left, len(list(archive.rglob("*.parquet")))) == (0, segments)
    else:
        assert (code, out, err.splitlines()) == (2, "", [_error(db)])
        assert left == segments
        assert _count(db, "SELECT COUNT(*) FROM ingested_segments") == 0

    # The next run, on a disk with room: every event counted once.
    assert main(rollup) == 0
    assert _count(db, "SELECT COUNT(*) FROM events") == EVENTS
    assert _count(db, "SELECT SUM(pageviews) + SUM(bot_hits) FROM daily_totals") == EVENTS
    out, _ = capsys.readouterr()
    assert out.startswith("nothing to do" if committed else f"ingested {segments} segments")


@pytest.mark.parametrize("committed", [True, False], ids=["after the commit", "before it"])
def test_a_prune_whose_commit_raises_exits_as_what_the_file_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    committed: bool,
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    old_day = datetime.now(UTC).date() - timedelta(days=60)
    write_events(spool, events_for_days(random.Random(4), [old_day], EVENTS), 40)
    Warehouse(db, raw_retention_days=365).run(spool)

    _fail_commits(monkeypatch, committed=committed)
    code = main(["prune", "--db", str(db), "--raw-days", "30", "--no-compact"])
    monkeypatch.undo()
    out, err = capsys.readouterr()
    if committed:
        assert (code, out, err.splitlines()) == (
            0,
            f"pruned {EVENTS} raw events older than 30 days\n",
            [_warning(db)],
        )
    else:
        assert (code, out, err.splitlines()) == (2, "", [_error(db)])
    assert _count(db, "SELECT COUNT(*) FROM events") == (0 if committed else EVENTS)


@pytest.mark.parametrize("committed", [True, False], ids=["after the commit", "before it"])
def test_the_rollup_method_whose_commit_raises_returns_only_when_committed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    committed: bool,
) -> None:
    # Ingested but not rolled up: the days it rolls up are what tells (no segment, no prune).
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    write_events(spool, events_for_days(random.Random(5), [DAY], EVENTS), 40)
    Warehouse(db).ingest(spool)

    _fail_commits(monkeypatch, committed=committed)
    with caplog.at_level(logging.WARNING, logger="analytics"):
        if committed:
            assert Warehouse(db).rollup() == (DAY,)
            assert [record.getMessage() for record in caplog.records] == [
                _warning(db).removeprefix("analytics: WARNING: ")
            ]
        else:
            with pytest.raises(WarehouseError) as raised:
                Warehouse(db).rollup()
            assert f"analytics: error: {raised.value}" == _error(db)
    monkeypatch.undo()
    assert _count(db, "SELECT COUNT(*) FROM rollup_days WHERE dirty") == (0 if committed else 1)


def test_a_commit_that_raises_on_a_file_that_cannot_be_read_back_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Another process took the lock between the failed COMMIT and the read-back: whether the
    # run committed is not known, and "nothing was committed" would be a guess.
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    spool.mkdir()
    Warehouse(db).run(spool)  # the tables, committed before the fault
    write_events(spool, events_for_days(random.Random(6), [DAY], EVENTS), 40)
    _fail_commits(monkeypatch, committed=True)
    real_connect = warehouse.connect

    def busy_for_readers(path: Path, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        if kwargs.get("read_only"):
            raise WarehouseLockedError(f"database {str(path)!r} is busy")
        return real_connect(path, **kwargs)

    monkeypatch.setattr(warehouse, "connect", busy_for_readers)
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 2
    monkeypatch.undo()
    assert capsys.readouterr().err.splitlines() == [
        f"{_error(db)}; whether this run was committed could not be read back: the next run "
        "finds out, and counts nothing twice"
    ]
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
    assert _count(db, "SELECT COUNT(*) FROM events") == EVENTS
