from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.event import EVENT_FIELDS, SCHEMA_VERSION, SCHEMA_VERSION_KEY, Event, to_table
from analytics.spool import SpoolError, list_segments, read_segment, write_segment
from tests.warehouse_support import DIRECT_VISIT


def _event(path: str = "/", visitor_id: int | None = 1) -> Event:
    return DIRECT_VISIT._replace(path=path, visitor_id=visitor_id)


def test_segment_round_trips_every_field_and_carries_the_schema_version(tmp_path: Path) -> None:
    events = [_event("/a"), _event("/b", visitor_id=None)]
    path = write_segment(tmp_path, date(2026, 11, 28), to_table(events))
    assert path.parent.name == "day=2026-11-28"
    table = read_segment(path)
    assert table.column_names == list(EVENT_FIELDS)
    assert table.column("path").to_pylist() == ["/a", "/b"]
    assert table.column("visitor_id").to_pylist() == [1, None]
    meta = pq.read_metadata(path).metadata
    assert meta[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()


def test_listing_skips_temporary_and_foreign_files(tmp_path: Path) -> None:
    write_segment(tmp_path, date(2026, 11, 27), to_table([_event()]))
    folder = tmp_path / "day=2026-11-27"
    (folder / ".tmp-123.parquet").write_bytes(b"half")
    (folder / "notes.txt").write_text("x")
    (tmp_path / "day=garbage").mkdir()
    (tmp_path / "salts").mkdir()
    segments = list_segments(tmp_path)
    assert len(segments) == 1
    assert segments[0].day == date(2026, 11, 27)
    assert segments[0].name.startswith("day=2026-11-27/")


def test_names_never_collide(tmp_path: Path) -> None:
    day = date(2026, 11, 28)
    paths = {write_segment(tmp_path, day, to_table([_event()])) for _ in range(50)}
    assert len(paths) == 50


def test_failed_write_leaves_nothing_sealed(tmp_path: Path) -> None:
    (tmp_path / "day=2026-11-28").write_text("a file where the folder should be")
    with pytest.raises(OSError):  # noqa: PT011 - any OSError: the caller keeps its events
        write_segment(tmp_path, date(2026, 11, 28), to_table([_event()]))
    (tmp_path / "day=2026-11-28").unlink()
    assert list_segments(tmp_path) == []


def test_missing_spool_is_an_error_but_empty_is_not(tmp_path: Path) -> None:
    assert list_segments(tmp_path) == []
    with pytest.raises(SpoolError):
        list_segments(tmp_path / "nope")


def test_temp_file_removed_when_write_fails_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(OSError):  # noqa: PT011
        write_segment(tmp_path, date(2026, 11, 28), to_table([_event()]))
    assert list((tmp_path / "day=2026-11-28").iterdir()) == []
