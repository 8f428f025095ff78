"""A COMMIT that raises is read back, not taken at its word.

DuckDB's COMMIT can commit and then raise: the checkpoint it runs right after a commit fails
(a full disk), and the error says "Transaction COMMIT succeeded and is durable, but the
autocheckpoint failed" (duckdb PR #23510). The same checkpoint failing before a bulk write
is durable says "Failed to create checkpoint", and nothing is committed. Before, both were
"cannot write the warehouse …" with exit 2, documented as "nothing was committed": a
committed rollup said so, and left its segments unarchived.

What is read back is the token the transaction wrote, not its work: the work alone could be
another run's. A cron run waiting on the lock took it between a failed COMMIT and the
read-back, ingested the same segments, and the failed run then read them as its own (both
printed "ingested N segments"; its warning named a journal that was not there). A prune that
deletes nothing left nothing to read, and a committed one said "nothing committed".

Here a connection wrapper around the real DuckDB connection runs the real COMMIT (or, for
the failure before the commit, a real ROLLBACK) and then raises DuckDB's own error for
that case; the warehouse, the segments, the CLI and the other run (a process) are real.
"""

from __future__ import annotations

import logging
import random
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import database, spark, warehouse
from analytics.cli import main
from analytics.errors import WarehouseError, WarehouseLockedError
from analytics.spark import load_spark_rollups
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.warehouse_support import events_for_days, spark_style_output, write_events

DAY = date(2026, 11, 2)
EVENTS = 120


class _CommitThatRaises:
    """A DuckDB connection whose COMMIT fails as a full disk makes it: after the commit
    (`committed`, the COMMIT is run) or before it (a ROLLBACK is run instead). A committed
    one leaves its journal (the .wal) behind when closed, as DuckDB does when the checkpoint
    failed, unless `journal_left` is False. `interrupted`: it raises what `interrupt_all`
    makes a COMMIT raise instead (DuckDB's InterruptException), a stop that came too late
    (committed) or in time."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        db: Path,
        *,
        committed: bool,
        journal_left: bool,
        interrupted: bool = False,
    ) -> None:
        self._con = con
        self._db = db
        self._committed = committed
        self._journal_left = journal_left
        self._interrupted = interrupted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.strip().upper() != "COMMIT":
            return self._con.execute(sql, *args, **kwargs)
        if self._committed and self._journal_left:
            self._con.execute("PRAGMA disable_checkpoint_on_shutdown")
        self._con.execute("COMMIT" if self._committed else "ROLLBACK")
        if self._interrupted:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
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


def _fail_commits(
    monkeypatch: pytest.MonkeyPatch,
    *,
    committed: bool,
    journal_left: bool = True,
    interrupted: bool = False,
) -> None:
    real_open = Warehouse._open

    def faulty_open(self: Warehouse) -> Any:
        return _CommitThatRaises(
            real_open(self),
            self.path,
            committed=committed,
            journal_left=journal_left,
            interrupted=interrupted,
        )

    monkeypatch.setattr(Warehouse, "_open", faulty_open)


def _count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(sql).fetchall()[0][0])


def _warning(db: Path, *, journal_left: bool = True) -> str:
    warning = (
        "analytics: WARNING: the run was committed, but the checkpoint after its COMMIT "
        "failed: No space left on device"
    )
    if not journal_left:
        return warning
    return (
        f"{warning}; the committed work stays in the journal '{db}.wal' until a later run's "
        "checkpoint succeeds"
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
            f"ingested {segments} segments ({EVENTS} events, 1 day); rolled up 1 day; "
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
@pytest.mark.parametrize("age", [60, 10], ids=["old events", "nothing to prune"])
def test_a_prune_whose_commit_raises_exits_as_what_the_file_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    committed: bool,
    age: int,
) -> None:
    # Nothing to prune: before, nothing told the commit, and a committed prune said exit 2.
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    day = datetime.now(UTC).date() - timedelta(days=age)
    write_events(spool, events_for_days(random.Random(4), [day], EVENTS), 40)
    Warehouse(db, raw_retention_days=365).run(spool)
    pruned = EVENTS if age > 30 else 0

    _fail_commits(monkeypatch, committed=committed)
    code = main(["prune", "--db", str(db), "--raw-days", "30", "--no-compact"])
    monkeypatch.undo()
    out, err = capsys.readouterr()
    if committed:
        assert (code, out, err.splitlines()) == (
            0,
            f"pruned {pruned} raw events older than 30 days\n",
            [_warning(db)],
        )
    else:
        assert (code, out, err.splitlines()) == (2, "", [_error(db)])
    assert _count(db, "SELECT COUNT(*) FROM events") == EVENTS - (pruned if committed else 0)


@pytest.mark.parametrize(
    ("committed", "journal_left"),
    [(True, True), (True, False), (False, False)],
    ids=["after the commit", "after the commit, journal gone", "before it"],
)
def test_the_rollup_method_whose_commit_raises_returns_only_when_committed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    committed: bool,
    journal_left: bool,
) -> None:
    # Ingested but not rolled up: no segment, no prune. The warning names the journal only
    # when it is there (before, always).
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    write_events(spool, events_for_days(random.Random(5), [DAY], EVENTS), 40)
    Warehouse(db).ingest(spool)

    _fail_commits(monkeypatch, committed=committed, journal_left=journal_left)
    with caplog.at_level(logging.WARNING, logger="analytics"):
        if committed:
            assert Warehouse(db).rollup() == (DAY,)
            assert [record.getMessage() for record in caplog.records] == [
                _warning(db, journal_left=journal_left).removeprefix("analytics: WARNING: ")
            ]
        else:
            with pytest.raises(WarehouseError) as raised:
                Warehouse(db).rollup()
            assert f"analytics: error: {raised.value}" == _error(db)
    monkeypatch.undo()
    assert _count(db, "SELECT COUNT(*) FROM rollup_days WHERE dirty") == (0 if committed else 1)


@pytest.mark.parametrize("committed", [True, False], ids=["after the commit", "before it"])
@pytest.mark.parametrize("meanwhile", ["busy file", "another run committed"])
def test_a_commit_that_raises_on_a_file_that_cannot_be_read_back_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    committed: bool,
    meanwhile: str,
) -> None:
    # Another process took the file between the failed COMMIT and the read-back: it still
    # holds it (busy), or it was a cron run waiting on the lock that then committed, the same
    # segments if this run's COMMIT failed. Whether this run committed is not known, and
    # either answer would be a guess. Before, the other run's commit read as this run's:
    # exit 0, "ingested 3 segments" from both, and a warning naming a journal not there.
    spool, archive, db = tmp_path / "spool", tmp_path / "archive", tmp_path / "w.duckdb"
    spool.mkdir()
    Warehouse(db).run(spool)  # the tables, committed before the fault
    segments = write_events(spool, events_for_days(random.Random(6), [DAY], EVENTS), 40)
    rollup = ["rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive)]
    _fail_commits(monkeypatch, committed=committed)
    other: list[subprocess.CompletedProcess[str]] = []
    if meanwhile == "busy file":
        _busy_for_readers(monkeypatch)
    else:
        real_read_back = Warehouse._read_back

        def another_run_first(self: Warehouse, *args: Any) -> Any:
            # The lock is free: the waiting cron run takes it, and finishes, first.
            other.append(
                subprocess.run(
                    cli(*rollup, "--wait", "30"), capture_output=True, text=True, timeout=120
                )
            )
            return real_read_back(self, *args)

        monkeypatch.setattr(Warehouse, "_read_back", another_run_first)
    assert main(rollup) == 2
    monkeypatch.undo()
    out, err = capsys.readouterr()
    assert (out, err.splitlines()) == (
        "",
        [
            f"{_error(db)}; whether this run was committed could not be read back: the next "
            "run finds out, and counts nothing twice"
        ],
    )
    if other:
        ingested = f"ingested {segments} segments ({EVENTS} events, 1 day); rolled up 1 day"
        assert (other[0].returncode, other[0].stderr) == (0, "")
        assert other[0].stdout.startswith("nothing to do" if committed else ingested)
    assert main(rollup) == 0
    assert _count(db, "SELECT COUNT(*) FROM events") == EVENTS
    assert _count(db, "SELECT SUM(pageviews) + SUM(bot_hits) FROM daily_totals") == EVENTS
    assert (len(list(spool.rglob("*.parquet"))), len(list(archive.rglob("*.parquet")))) == (
        0,
        segments,
    )


def _busy_for_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the file: the read-back cannot open it."""
    real_connect = database.connect  # what `warehouse.connect` is

    def busy_for_readers(path: Path, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        if kwargs.get("read_only"):
            raise WarehouseLockedError(f"database {str(path)!r} is busy")
        return real_connect(path, **kwargs)

    monkeypatch.setattr(warehouse, "connect", busy_for_readers)


UNKNOWN = (
    "whether this run was committed could not be read back: the next run finds out, and "
    "counts nothing twice"
)


@pytest.mark.parametrize(
    ("committed", "readable", "outcome"),
    [
        (True, True, "returned"),
        (
            False,
            True,
            "Interrupted: warehouse '{db}': interrupted; nothing of this run was committed",
        ),
        (
            True,
            False,
            "WarehouseError: warehouse '{db}': interrupted during its COMMIT; " + UNKNOWN,
        ),
    ],
    ids=["too late, read back", "in time", "too late, busy file"],
)
def test_an_interrupt_all_at_commit_is_said_as_what_the_file_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    committed: bool,
    readable: bool,
    outcome: str,
) -> None:
    # `interrupt_all` (any thread, no Ctrl-C) during a COMMIT. Before (review r258 F1, F2): one
    # too late to stop it raised KeyboardInterrupt out of the committed run; and with a file
    # that could not be read back, the run said "nothing of this run was committed" whatever
    # it held.
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    spool.mkdir()
    Warehouse(db).run(spool)  # the tables, committed before the fault
    write_events(spool, events_for_days(random.Random(8), [DAY], EVENTS), 40)
    _fail_commits(monkeypatch, committed=committed, journal_left=False, interrupted=True)
    if not readable:
        _busy_for_readers(monkeypatch)
    try:
        Warehouse(db, raw_retention_days=36500).run(spool)
        said = "returned"
    except BaseException as exc:  # a KeyboardInterrupt too: as a failure, not pytest's stop
        said = f"{type(exc).__name__}: {exc}"
    monkeypatch.undo()
    assert said == outcome.format(db=db)
    assert _count(db, "SELECT COUNT(*) FROM events") == (EVENTS if committed else 0)


@pytest.mark.parametrize("committed", [True, False], ids=["after the commit", "before it"])
def test_a_spark_load_whose_commit_raises_is_loaded_only_when_committed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    committed: bool,
) -> None:
    # `rollup --engine spark --db`: its bare COMMIT took the error at its word, and a load
    # that was durable raised "cannot load Spark rollups: FATAL Error: ..." (review r251 F4).
    events = events_for_days(random.Random(7), [DAY], EVENTS)
    output = spark_style_output(tmp_path, events, datetime(2026, 11, 3, tzinfo=UTC))
    db = tmp_path / "loaded.duckdb"
    real_connect = database.connect  # what `spark.connect` is

    def faulty_connect(path: Path, **kwargs: Any) -> Any:
        con = real_connect(path, **kwargs)
        return _CommitThatRaises(con, Path(path), committed=committed, journal_left=True)

    monkeypatch.setattr(spark, "connect", faulty_connect)
    with caplog.at_level(logging.WARNING, logger="analytics"):
        if committed:
            assert load_spark_rollups(output, db)["daily_totals"] > 0
            assert [record.getMessage() for record in caplog.records] == [
                _warning(db).removeprefix("analytics: WARNING: ")
            ]
        else:
            with pytest.raises(
                WarehouseError, match=r"^cannot load Spark rollups: .*No space left"
            ):
                load_spark_rollups(output, db)
    monkeypatch.undo()
    total = "SELECT COALESCE(SUM(pageviews) + SUM(bot_hits), 0) FROM daily_totals"
    if committed:
        assert _count(db, total) == EVENTS
    load_spark_rollups(output, db)  # the next load, with room: the same counts, once
    assert _count(db, total) == EVENTS
