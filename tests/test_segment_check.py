"""verify_segment finds damage in place (bit rot) that the footer and DuckDB cannot see.

Segments are made by the real writer (a Recorder flushing into a spool), then damaged the way
a bad disk block does: a few bytes of the `path` column's data page changed, the footer left
intact. Without page checksums such damage is read silently as other paths (dictionary
indices pointing at other entries), which is what these tests look for first.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.segment_check import verify_segment
from tests.recording_support import sealed_page_views
from tests.segment_damage_support import damage_silently, flips, read_column


def _segment(tmp_path: Path, events: int = 1000) -> Path:
    """One segment of `events` page views, each of its own path, sealed by the recorder."""
    (segment,) = sealed_page_views(tmp_path / "spool", events, step=timedelta(seconds=1))
    return segment


def test_a_segment_with_a_flipped_data_page_is_found_damaged(tmp_path: Path) -> None:
    path = _segment(tmp_path)
    damage_silently(path)
    reason = verify_segment(path)
    assert reason is not None
    assert "CRC" in reason  # found by the page checksum, not by luck in decoding
    assert str(tmp_path) not in reason


def test_a_good_segment_passes(tmp_path: Path) -> None:
    path = _segment(tmp_path)
    assert verify_segment(path) is None
    assert verify_segment(str(path)) is None


def test_damage_in_a_later_row_group_is_found(tmp_path: Path) -> None:
    # Read a row group at a time: the last one is checked as well as the first.
    path = _segment(tmp_path, events=3000)
    table = pq.read_table(path)
    rewritten = tmp_path / "three-groups.parquet"
    pq.write_table(
        table, rewritten, row_group_size=1000, compression="zstd", write_page_checksum=True
    )
    assert pq.read_metadata(rewritten).num_row_groups == 3
    assert verify_segment(rewritten) is None
    damage_silently(rewritten, row_group=2)
    assert verify_segment(rewritten) is not None


def _old_format(path: Path) -> None:
    """Rewrite `path` as releases before page checksums wrote segments (same schema, same
    footer metadata, zstd, no CRC)."""
    pq.write_table(pq.read_table(path), path, compression="zstd")


def test_a_segment_of_an_older_release_without_checksums_passes(tmp_path: Path) -> None:
    path = _segment(tmp_path)
    metadata = pq.read_metadata(path).metadata
    _old_format(path)
    assert pq.read_metadata(path).metadata == metadata
    assert verify_segment(path) is None


def test_an_older_segment_whose_page_does_not_decode_is_found_damaged(tmp_path: Path) -> None:
    # Without a CRC only what fails to decode can be found (silent damage cannot: see README).
    path = _segment(tmp_path)
    _old_format(path)
    for _ in flips(path):
        if read_column(path, "path") is None:
            break
    else:
        pytest.fail("no flip made the old-format page fail to decode")
    assert verify_segment(path) is not None


def test_a_truncated_or_garbage_file_is_found_damaged(tmp_path: Path) -> None:
    path = _segment(tmp_path)
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])
    assert verify_segment(path) is not None
    path.write_bytes(b"not parquet at all" * 10)
    assert verify_segment(path) is not None


def test_a_missing_file_raises_instead_of_naming_damage(tmp_path: Path) -> None:
    # Gone since the listing: nothing is known about its contents, the caller decides.
    with pytest.raises(FileNotFoundError):
        verify_segment(tmp_path / "day=2026-01-01" / "gone.parquet")


def test_every_column_is_checked(tmp_path: Path) -> None:
    # Not only `path`: silent damage to `ts` (other times, so events on other days) too.
    path = _segment(tmp_path)
    damage_silently(path, column="ts")
    assert verify_segment(path) is not None
