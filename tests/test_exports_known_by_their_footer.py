"""A warehouse export saved into the spool is known by the footer read that checks every
segment, once: no second read of each footer, and an export of any table is said to be one.

The first version read each new segment's footer twice (once to check it, once more to look
for the export mark), and checked the event columns first: an export of a rollup table
(`daily_totals`, no event columns) saved into the spool was quarantined as a corrupt segment
("missing columns"), counted among the corrupt ones, and not named an export.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.export import export_table
from analytics.footers import NotASegment, export_mark, read_footer
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _warehouse(tmp_path: Path) -> tuple[Path, Path]:
    spool = tmp_path / "spool"
    write_segment(spool, DAY, to_table(events_for_days(random.Random(3), [DAY], 20)))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    return spool, db


def test_each_new_segments_footer_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    sealed = [
        write_segment(spool, DAY, to_table(events_for_days(random.Random(n), [DAY], 10)))
        for n in range(4)
    ]
    reads: Counter[str] = Counter()
    real = pq.read_metadata

    def counted(where: Any, *args: Any, **kwargs: Any) -> Any:
        reads[Path(where).name] += 1
        return real(where, *args, **kwargs)

    monkeypatch.setattr(pq, "read_metadata", counted)

    result = Warehouse(tmp_path / "w.duckdb", clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.segments == 4
    assert reads == Counter({path.name: 1 for path in sealed})


def test_an_export_of_a_rollup_table_is_an_export_not_a_corrupt_segment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, db = _warehouse(tmp_path)
    export = spool / "day=2026-11-01" / "totals.parquet"
    export_table(db, "daily_totals", "parquet", export)
    capsys.readouterr()

    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0

    captured = capsys.readouterr()
    assert (
        "analytics: WARNING: quarantined file day=2026-11-01/totals.parquet: an export of the "
        "warehouse's daily_totals table, not a spool segment" in captured.err
    )
    assert "; quarantined 1 file that is not a segment (a warehouse export)" in captured.out
    assert "corrupt" not in captured.out
    assert (spool / "quarantine" / "day=2026-11-01" / "totals.parquet").is_file()


def test_read_footer_names_an_export(tmp_path: Path) -> None:
    spool, db = _warehouse(tmp_path)
    export = tmp_path / "events.parquet"
    export_table(db, "events", "parquet", export)

    with pytest.raises(NotASegment, match="an export of the warehouse's events table"):
        read_footer(export)
    (segment,) = spool.glob("day=*/*.parquet")
    assert read_footer(segment).rows == 20  # a segment is no export


def test_only_a_top_level_day_column_marks_an_export(tmp_path: Path) -> None:
    # A field named day inside another column is not the warehouse's `day`.
    nested = pa.table({"meta": pa.array([{"day": 1}]), "ts": pa.array([1])})
    pq.write_table(nested, tmp_path / "nested.parquet")
    flat = pa.table({"ts": pa.array([1]), "day": pa.array([date(2026, 11, 1)])})
    pq.write_table(flat, tmp_path / "flat.parquet")

    assert export_mark(pq.read_metadata(tmp_path / "nested.parquet")) is None
    assert export_mark(pq.read_metadata(tmp_path / "flat.parquet")) is not None
