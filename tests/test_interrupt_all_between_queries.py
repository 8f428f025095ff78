"""`interrupt_all` stops a warehouse run that is between two DuckDB queries.

DuckDB drops an interrupt that comes while its connection runs no query, and a run spends
about a fifth of its work checking segments' pages with Arrow, then runs several statements
in turn. An `interrupt_all` landing there (a shutdown hook, another thread's Ctrl-C) was lost:
the run went on to commit (CI, at a 25 % point of a run's work). The interrupt is placed at
an exact step here, by wrapping the step, so that the test never depends on timing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

import analytics.warehouse as warehouse_module
from analytics import segment_check
from analytics.database import connect, interrupt_all
from analytics.errors import Interrupted
from analytics.spool import write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from bench.gen import day_table

FIRST = date(2026, 11, 1)
SEGMENTS = 4


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    for i in range(SEGMENTS):
        write_segment(folder, FIRST + timedelta(days=i), day_table(FIRST, 500, seed=i))
    return folder


def _counts(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM ingested_segments)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _interrupting_after(calls: int, step: Callable[..., object]) -> Callable[..., object]:
    """`step`, which calls `interrupt_all` once it has run `calls` times."""
    done = 0

    def wrapped(*args: object, **kwargs: object) -> object:
        nonlocal done
        result = step(*args, **kwargs)
        done += 1
        if done == calls:
            assert interrupt_all() == 1  # the run's one connection
        return result

    return wrapped


def test_an_interrupt_while_segments_are_checked_stops_the_run(
    spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = segment_check.verify_segment  # what `warehouse_module.verify_segment` is
    monkeypatch.setattr(warehouse_module, "verify_segment", _interrupting_after(2, real))
    db = tmp_path / "w.duckdb"
    with pytest.raises(Interrupted, match="interrupted; nothing of this run was committed"):
        Warehouse(db).run(spool)
    assert _counts(db) == (0, 0)
    assert not (spool / QUARANTINE_FOLDER).exists()  # no segment blamed for the stop
    monkeypatch.setattr(warehouse_module, "verify_segment", real)
    result = Warehouse(db).run(spool)  # the next run does it all, once
    assert result.ingest.segments == SEGMENTS
    assert _counts(db) == (result.ingest.events, SEGMENTS)


def test_an_interrupt_between_the_last_query_and_commit_rolls_the_run_back(
    spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Warehouse._in_ledger
    monkeypatch.setattr(Warehouse, "_in_ledger", _interrupting_after(1, real))
    db = tmp_path / "w.duckdb"
    with pytest.raises(Interrupted):
        Warehouse(db).run(spool)
    assert _counts(db) == (0, 0)
    monkeypatch.setattr(Warehouse, "_in_ledger", real)
    assert Warehouse(db).run(spool).ingest.segments == SEGMENTS


def test_an_interrupt_before_a_run_does_not_stop_the_next_one(spool: Path, tmp_path: Path) -> None:
    # Told to stop are the connections open at the call: a run that opens its own later is
    # not stopped by an old call.
    interrupt_all()
    db = tmp_path / "w.duckdb"
    assert Warehouse(db).run(spool).ingest.segments == SEGMENTS


def test_a_closed_connection_still_held_is_not_counted(tmp_path: Path) -> None:
    """A closed connection stays in the registry (a WeakSet) until Python frees it, which a
    traceback that holds the failed run's frame delays until the collector runs: one earlier
    test's `pytest.raises(...) as raised` made the next `interrupt_all()` say 2 (CI)."""
    held = connect(tmp_path / "w.duckdb")
    held.close()
    assert interrupt_all() == 0
    with connect(tmp_path / "w.duckdb"):
        assert interrupt_all() == 1
    assert held is not None  # still referenced here, as the traceback held the run's
