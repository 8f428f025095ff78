"""A segment damaged in a way that only DuckDB's Parquet reader notices (a flipped bit in a
page header: "uncompressed page size mismatch", which pyarrow reads past) is quarantined, and
the rest of the spool is ingested. Before, the per-segment check after the failed bulk read used
pyarrow alone, found no culprit, and every run failed with "reading the new segments failed
twice", so nothing more was ever ingested."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.database import SIGNAL_INTERRUPTED
from analytics.event import EVENT_FIELDS, EVENT_SCHEMA, to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

DAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 29, tzinfo=UTC)
ODD = f"day={DAY.isoformat()}/odd.parquet"


def _pyarrow_reads(data: bytes) -> bool:
    try:
        table = pq.read_table(pa.BufferReader(data), columns=list(EVENT_FIELDS))
        table.cast(EVENT_SCHEMA).validate(full=True)
    except Exception:
        return False
    return True


def _duckdb_reads(path: Path) -> bool:
    try:
        with duckdb.connect() as con:
            con.execute("SELECT * FROM read_parquet($file)", {"file": str(path)}).fetchall()
    except duckdb.Error:
        return False
    return True


def _damage_only_duckdb_sees(path: Path) -> None:
    """Flip the first bit, in the first page header, that pyarrow reads past and DuckDB
    refuses (the first column's uncompressed page, so the header comes right after 'PAR1')."""
    original = path.read_bytes()
    for position in range(4, 64):
        for bit in range(8):
            data = bytearray(original)
            data[position] ^= 1 << bit
            path.write_bytes(bytes(data))
            if _pyarrow_reads(bytes(data)) and not _duckdb_reads(path):
                return
    pytest.fail("no bit in the first page header that only DuckDB notices")


def _spool_with_one_segment_only_duckdb_finds_damaged(tmp_path: Path) -> Path:
    """A spool of one good segment (a direct visit to /) and ODD, damaged as only DuckDB sees."""
    spool = tmp_path / "spool"
    write_segment(spool, DAY, to_table([DIRECT_VISIT]))
    odd = to_table([DIRECT_VISIT._replace(path="/odd", visitor_id=i) for i in range(30)])
    pq.write_table(odd, spool / ODD, compression="none", use_dictionary=False)
    _damage_only_duckdb_sees(spool / ODD)
    return spool


def test_a_segment_only_duckdb_finds_damaged_is_quarantined(tmp_path: Path) -> None:
    spool = _spool_with_one_segment_only_duckdb_finds_damaged(tmp_path)
    db = tmp_path / "w.duckdb"

    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.quarantined == (ODD,)
    assert (spool / "quarantine" / ODD).is_file()
    assert {row[1:] for row in table_rows(db, "daily_pages")} == {("example.com", "/", 1, 1)}
    write_segment(spool, DAY, to_table([DIRECT_VISIT._replace(path="/later")]))
    assert Warehouse(db, clock=fixed_clock(NOW)).run(spool).ingest.events == 1


def test_a_ctrl_c_during_the_search_for_the_damaged_one_quarantines_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C in a program with Python's own SIGINT handler reaches DuckDB's query as its
    RuntimeError "Query interrupted". Landing in the one-by-one trial inserts that look for the
    damaged segment, it was taken for the segment's fault: a good segment was quarantined, its
    events never counted. It is the KeyboardInterrupt it was, and nothing is moved or kept."""
    spool = _spool_with_one_segment_only_duckdb_finds_damaged(tmp_path)
    db = tmp_path / "w.duckdb"

    def ctrl_c_lands(*_: object) -> None:
        raise RuntimeError(SIGNAL_INTERRUPTED)  # as DuckDB raises it: the exact type and text

    monkeypatch.setattr(Warehouse, "_trial_insert", ctrl_c_lands)
    with pytest.raises(KeyboardInterrupt):
        Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert not (spool / "quarantine").exists()
    monkeypatch.undo()
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.quarantined == (ODD,)
    assert {row[1:] for row in table_rows(db, "daily_pages")} == {("example.com", "/", 1, 1)}
