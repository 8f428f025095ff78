"""A segment that vanishes between the listing and the read (a run that waited on the lock
while another quarantined it, an operator's `rm`) is gone, not corrupt: skipped without a
"quarantined" count or a "corrupt segment … not moved" warning, and a copy of it under another
name, in the same run, is ingested in its place instead of being recorded as a copy of
events that were never counted."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.event import to_table
from analytics.footers import Footer, read_footer
from analytics.spool import Segment, list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

DAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _spool(root: Path) -> tuple[Path, Path, Path]:
    """A spool with a segment of 2 events (`kept`) and one of 5 (`doomed`)."""
    spool = root / "spool"
    kept = write_segment(spool, DAY, to_table([DIRECT_VISIT] * 2))
    doomed = write_segment(spool, DAY, to_table([DIRECT_VISIT._replace(path="/gone")] * 5))
    return spool, kept, doomed


def _pageviews(db: Path) -> dict[str, int]:
    return {row[2]: row[3] for row in table_rows(db, "daily_pages")}


def test_a_segment_gone_before_its_footer_is_read_is_not_counted_as_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spool, _, doomed = _spool(tmp_path)

    def listed_then_removed(folder: Path) -> list[Segment]:
        segments = list_segments(folder)
        doomed.unlink()
        return segments

    monkeypatch.setattr("analytics.warehouse.list_segments", listed_then_removed)
    db = tmp_path / "w.duckdb"

    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.quarantined == ()
    assert "quarantined" not in result.summary()
    assert not (spool / "quarantine").exists()
    assert "corrupt" not in caplog.text
    assert _pageviews(db) == {"/": 2}


@pytest.mark.parametrize("with_copy", [False, True], ids=["alone", "with-a-copy"])
def test_a_segment_gone_before_its_rows_are_read_is_skipped_and_its_copy_counts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    with_copy: bool,
) -> None:
    spool, _, doomed = _spool(tmp_path)
    if with_copy:
        # A backup restored under another name: same content, listed after the original.
        shutil.copy(doomed, doomed.with_name("zz-restored.parquet"))

    def footer_then_removed(path: Path) -> Footer:
        footer = read_footer(path)
        if path == doomed:
            path.unlink()
        return footer

    monkeypatch.setattr("analytics.warehouse.read_footer", footer_then_removed)
    db = tmp_path / "w.duckdb"

    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.quarantined == ()
    assert "corrupt" not in caplog.text
    assert result.ingest.duplicates == ()
    assert _pageviews(db) == ({"/": 2, "/gone": 5} if with_copy else {"/": 2})
    # Counted once, and never again on the next run.
    monkeypatch.undo()
    assert Warehouse(db, clock=fixed_clock(NOW)).run(spool).ingest.segments == 0
    assert _pageviews(db) == ({"/": 2, "/gone": 5} if with_copy else {"/": 2})
