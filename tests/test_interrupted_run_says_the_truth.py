"""A rollup stopped on purpose (Ctrl-C, `interrupt_all`) says "nothing of this run was
committed": that must be true wherever the stop lands. The last question a run asks DuckDB,
which ingested segments to archive, used to come after COMMIT: a stop landing there raised
`Interrupted` with that message for a run that had committed."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.errors import Interrupted
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 1)


def _stopped_while_asking(*args: Any, **kwargs: Any) -> Any:
    raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")


def _counts(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM ingested_segments)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_stop_while_choosing_what_to_archive_commits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool, db, archive = tmp_path / "spool", tmp_path / "w.duckdb", tmp_path / "archive"
    events = events_for_days(random.Random(7), [DAY, DAY + timedelta(days=1)], per_day=40)
    written = write_events(spool, events, per_segment=20)
    segments = sorted(spool.rglob("*.parquet"))
    assert len(segments) == written == 4
    with monkeypatch.context() as patch:
        patch.setattr(Warehouse, "_in_ledger", _stopped_while_asking)
        with pytest.raises(Interrupted, match="nothing of this run was committed"):
            Warehouse(db, archive=archive).run(spool)
    # As the message says: nothing counted, nothing in the ledger, every segment in place.
    assert _counts(db) == (0, 0)
    assert sorted(spool.rglob("*.parquet")) == segments
    # And the next run counts everything once.
    Warehouse(db, archive=archive).run(spool)
    assert _counts(db) == (len(events), len(segments))
    assert not list(spool.rglob("*.parquet"))
