"""`Warehouse(db).today()` on a database that exists but is no warehouse yet: a 0-byte file
(`touch`, `mktemp`, an install script that sets its owner and mode ahead of the first run)
or a DuckDB file with no tables. Like a missing file, it stores no zone: today is UTC's, or
the `timezone=` given. Before, the 0-byte file raised WarehouseError ("is an empty file (0
bytes), not a warehouse yet") from the read-only open that looks for the stored zone.
Asking must not change the file either: the first run makes it a database in place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.warehouse import Warehouse
from tests.warehouse_support import fixed_clock

# 20:30 UTC on the 19th is already the 20th in Tokyo (UTC+9): the zone shows in the answer.
NOW = datetime(2026, 11, 19, 20, 30, tzinfo=UTC)
UTC_DAY = date(2026, 11, 19)
TOKYO_DAY = date(2026, 11, 20)


def _empty_file(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    db.touch()
    return db


def _database_without_tables(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    return db


MAKERS = pytest.mark.parametrize(
    "make", [_empty_file, _database_without_tables], ids=["0-byte file", "no tables"]
)


@MAKERS
def test_no_stored_zone_yet_is_utc(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    db = make(tmp_path)
    before = db.read_bytes()
    assert Warehouse(db, clock=fixed_clock(NOW)).today() == UTC_DAY
    assert db.read_bytes() == before  # asking made nothing of it


@MAKERS
def test_the_zone_given_counts(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    db = make(tmp_path)
    assert Warehouse(db, timezone="Asia/Tokyo", clock=fixed_clock(NOW)).today() == TOKYO_DAY


def test_the_first_run_on_the_empty_file_then_stores_its_zone(tmp_path: Path) -> None:
    db = _empty_file(tmp_path)
    (tmp_path / "spool").mkdir()
    Warehouse(db, clock=fixed_clock(NOW)).today()
    Warehouse(db, timezone="Asia/Tokyo", clock=fixed_clock(NOW)).run(tmp_path / "spool")
    assert db.stat().st_size > 0
    assert Warehouse(db, clock=fixed_clock(NOW)).today() == TOKYO_DAY
