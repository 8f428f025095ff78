"""A Parquet export of the warehouse saved into the spool is not ingested as a segment.

`export --table events --format parquet --output <spool>/day=…/export.parquet` (an analyst
restoring "the raw events", or keeping an export beside the segments it came from) was read
by the next rollup as a new segment: every event counted twice, silently (it is no byte copy
of a segment, so the content check does not know it). An export now names its table in its
Parquet metadata (`cookiewall.export`), and the rollup moves a file that carries it, or that
has a `day` column (the warehouse's `events` has one; a spool segment never does, its day is
its folder), to `<spool>/quarantine/` with a one-line warning, never counting it. A segment
written by another tool (no `cookiewall.segment` key, no `day` column) is still ingested.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.export import export_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
EVENTS = 26


def _warehouse(tmp_path: Path) -> tuple[Path, Path]:
    spool = tmp_path / "spool"
    write_segment(spool, DAY, to_table(events_for_days(random.Random(7), [DAY], EVENTS)))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    return spool, db


def _counts(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        pageviews = con.execute("SELECT sum(pageviews) FROM daily_totals").fetchall()[0][0]
    return int(events), int(pageviews)


def _export_without_the_mark(db: Path, output: Path) -> None:
    # What an export made before the mark holds, or a plain `COPY events TO` in DuckDB.
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"COPY (SELECT * FROM events ORDER BY ts) TO '{output}' (FORMAT parquet)")


@pytest.mark.parametrize("made_by", ["analytics export", "an older export (no mark)"])
@pytest.mark.parametrize("disposal", [[], ["--archive", "ARCHIVE"], ["--delete-ingested"]])
def test_an_export_in_the_spool_is_quarantined_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], made_by: str, disposal: list[str]
) -> None:
    spool, db = _warehouse(tmp_path)
    before = _counts(db)
    assert before[0] == EVENTS
    export = spool / "day=2026-11-01" / "export.parquet"
    if made_by == "analytics export":
        argv = ["export", "--db", str(db), "--table", "events", "--format", "parquet"]
        assert main([*argv, "--output", str(export), "--quiet"]) == 0
    else:
        _export_without_the_mark(db, export)
    exported = export.read_bytes()
    capsys.readouterr()
    options = [str(tmp_path / "archive") if arg == "ARCHIVE" else arg for arg in disposal]

    code = main(["rollup", "--spool", str(spool), "--db", str(db), *options])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert _counts(db) == before  # not one event counted twice
    reason = (
        "an export of the warehouse's events table, not a spool segment"
        if made_by == "analytics export"
        else "a day column, which no spool segment has: an export of the warehouse's events "
        "table, not a segment"
    )
    assert (
        f"analytics: WARNING: quarantined file day=2026-11-01/export.parquet: {reason}"
        in captured.err
    )
    assert "; quarantined 1 file that is not a segment (a warehouse export)" in captured.out
    assert "corrupt" not in captured.out
    # Kept, out of the way: the user's file, not lost and not read again.
    assert not export.exists()
    assert (spool / "quarantine" / "day=2026-11-01" / "export.parquet").read_bytes() == exported
    assert main(["rollup", "--spool", str(spool), "--db", str(db), *options]) == 0
    assert _counts(db) == before


def test_the_library_names_it(tmp_path: Path) -> None:
    spool, db = _warehouse(tmp_path)
    export_table(db, "events", "parquet", spool / "day=2026-11-01" / "events.parquet")

    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.segments == 0
    assert result.ingest.events == 0
    assert result.ingest.not_segments == ("day=2026-11-01/events.parquet",)
    assert result.ingest.quarantined == ("day=2026-11-01/events.parquet",)
    assert _counts(db)[0] == EVENTS


@pytest.mark.parametrize("table", ["events", "daily_totals"])
def test_a_parquet_export_names_its_table(tmp_path: Path, table: str) -> None:
    _, db = _warehouse(tmp_path)
    output = tmp_path / f"{table}.parquet"

    export_table(db, table, "parquet", output)

    assert (pq.read_metadata(output).metadata or {})[b"cookiewall.export"] == table.encode()


def test_a_segment_of_another_tool_is_still_ingested(tmp_path: Path) -> None:
    # No cookiewall.segment key, no day column: the spool format, written by someone else.
    spool, db = _warehouse(tmp_path)
    table = to_table(events_for_days(random.Random(8), [DAY], 5)).replace_schema_metadata(None)
    pq.write_table(table, spool / "day=2026-11-01" / "backfill.parquet")

    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.segments == 1
    assert result.ingest.quarantined == ()
    assert _counts(db)[0] == EVENTS + 5
