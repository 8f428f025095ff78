"""An ingested segment that another run archived or deleted first (two overlapping cron runs:
the earlier one still moving its segments after its commit while the later one, done with
the lock, moves the same ones) is disposed of, not a failure: no "could not move" warning,
not in `undisposed`, and the CLI exits 0, not 3 ("check the archive")."""

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.spool import Segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _spool(root: Path) -> Path:
    spool = root / "spool"
    events = events_for_days(random.Random(5), [date(2026, 11, 27), date(2026, 11, 28)], 40)
    write_events(spool, events, per_segment=20)
    return spool


@pytest.mark.parametrize("disposal", ["archive", "delete"])
def test_segments_another_run_disposed_of_first_count_as_disposed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    disposal: str,
) -> None:
    spool = _spool(tmp_path)
    archive = tmp_path / "archive"
    real = Warehouse._in_ledger
    taken: list[str] = []

    def other_run_takes_half(
        self: Warehouse,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        skipped: set[str],
    ) -> list[Segment]:
        listed = real(self, con, segments, skipped)
        for seg in listed[::2]:  # what the other run moved meanwhile
            if disposal == "delete":
                seg.path.unlink()
            else:
                (archive / seg.name).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(seg.path, archive / seg.name)
            taken.append(seg.name)
        return listed

    monkeypatch.setattr(Warehouse, "_in_ledger", other_run_takes_half)
    warehouse = Warehouse(
        tmp_path / "w.duckdb",
        clock=fixed_clock(NOW),
        archive="delete" if disposal == "delete" else archive,
    )

    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = warehouse.run(spool)

    assert taken
    assert result.ingest.undisposed == ()
    assert "could not" not in caplog.text
    assert "could not be archived" not in result.summary()
    assert list(spool.glob("day=*/*.parquet")) == []
    if disposal == "archive":
        assert len(list(archive.glob("day=*/*.parquet"))) == result.ingest.segments
