"""A run's result says of each segment to quarantine what its own move did: moved (in
`quarantined`) or left in the spool (`not_moved`, a read-only spool: see
tests/test_disposal_refused_up_front.py).

Before, the result looked for the names in the spool once the run was over: a segment the
run had moved, and warned "quarantined", that was back under its name by then (an rsync
from the web hosts delivering it again) was said "could not be moved there (left in the
spool ...)", and not counted as quarantined.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.event import to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _seal(spool: Path, events: int, seed: int) -> Path:
    return write_segment(spool, DAY, to_table(events_for_days(random.Random(seed), [DAY], events)))


def _damaged(tmp_path: Path, warehouse: Warehouse) -> Path:
    segment = _seal(tmp_path / "spool", 10, seed=1)
    segment.write_bytes(b"garbage")
    return segment


def _reused_name(tmp_path: Path, warehouse: Warehouse) -> Path:
    segment = _seal(tmp_path / "spool", 10, seed=1)
    warehouse.run(tmp_path / "spool")  # ingested under its name, left in the spool
    segment.write_bytes(_seal(tmp_path / "elsewhere", 25, seed=2).read_bytes())
    return segment


def _not_utf8_name(tmp_path: Path, warehouse: Warehouse) -> Path:
    sealed = _seal(tmp_path / "spool", 10, seed=1)
    segment = sealed.with_name(os.fsdecode(b"odd-\xff.parquet"))
    sealed.rename(segment)
    return segment


# Each place a run quarantines from: the footer check, the ledger's names, the name check.
QUARANTINED: dict[str, Callable[[Path, Warehouse], Path]] = {
    "damaged": _damaged,
    "a reused name": _reused_name,
    "a name that is not UTF-8": _not_utf8_name,
}


@pytest.mark.parametrize("kind", QUARANTINED)
def test_a_quarantined_segment_delivered_again_during_the_run_is_said_quarantined(
    tmp_path: Path, kind: str
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb", clock=fixed_clock(NOW))
    segment = QUARANTINED[kind](tmp_path, warehouse)
    spool = tmp_path / "spool"
    name = segment.relative_to(spool).as_posix()

    def delivered_again() -> None:
        shutil.copy2(spool / "quarantine" / name, segment)

    result = warehouse.run(spool, before_commit=delivered_again)

    assert (result.ingest.quarantined, result.ingest.not_moved) == ((name,), ())
    assert "could not be moved" not in result.summary()
    assert segment.read_bytes() == (spool / "quarantine" / name).read_bytes()
