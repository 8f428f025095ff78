"""A rollup killed while it copied a segment into the archive on another filesystem leaves
the copy's temporary file there (`.tmp-move-<pid>-<name>.partial`). Nothing listed it, so it
stayed for ever, as large as the segment. Each run now removes such temporaries once they are
an hour old, as it does in the spool; a younger one may be a copy in progress."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, date, datetime
from pathlib import Path

from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_stale_archive_temporaries_are_removed_and_young_ones_kept(tmp_path: Path) -> None:
    spool, archive = tmp_path / "spool", tmp_path / "archive"
    write_events(spool, events_for_days(random.Random(1), [date(2026, 11, 28)], per_day=20))
    day = archive / "day=2026-11-27"
    day.mkdir(parents=True)
    stale = day / ".tmp-move-4242-seg-a.parquet.partial"
    young = day / ".tmp-move-4243-seg-b.parquet.partial"
    sealed = day / "seg-c.parquet"  # an archived segment: never touched
    for path in (stale, young, sealed):
        path.write_bytes(b"x" * 100)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(sealed, (two_hours_ago, two_hours_ago))

    Warehouse(tmp_path / "a.duckdb", clock=fixed_clock(NOW), archive=archive).run(spool)

    assert not stale.exists()
    assert young.exists()
    assert sealed.exists()
    # The run's own segments were archived as usual.
    assert list((archive / "day=2026-11-28").glob("*.parquet"))
