"""A file whose name fits the filesystem can always be written under its temporary name.

A temporary name is the final name plus `.tmp-`, a tag and `.partial` (26 more bytes for a
download, 8 more than before `.partial`): a segment named near the 255-byte limit of a file
name (ext4, xfs, tmpfs), which a spool, an archive and a bucket all hold, failed to be
archived across filesystems or downloaded ('File name too long'), though its own name fits.
A temporary name that would not fit now holds a digest of the name instead of the name.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics import segment_moves
from analytics.event import Event, to_table
from analytics.spool import TEMP_PREFIX, TEMP_SUFFIX, list_segments, temporary_name, write_segment
from tests.warehouse_support import DIRECT_VISIT

DAY = date(2026, 11, 29)
NAME_MAX = 255


def _long_name(length: int, filler: str = "a") -> str:
    """A segment file name of `length` bytes (UTF-8) ending in .parquet."""
    body = length - len(".parquet")
    unit = len(filler.encode())
    return filler * (body // unit) + "b" * (body % unit) + ".parquet"


def _events(count: int) -> list[Event]:
    when = datetime(2026, 11, 29, 12, tzinfo=UTC)
    return [DIRECT_VISIT._replace(ts=when, path=f"/p{i}", visitor_id=None) for i in range(count)]


@pytest.mark.parametrize("length", [230, 240, 255])
@pytest.mark.parametrize("filler", ["a", "é", "日"])
@pytest.mark.parametrize("tag", ["", "move-4194304-", "0123456789ab-"])
def test_a_temporary_name_fits_wherever_its_name_fits(length: int, filler: str, tag: str) -> None:
    name = _long_name(length, filler)
    assert len(name.encode()) == length
    temporary = temporary_name(name, tag=tag)
    assert len(temporary.encode()) <= NAME_MAX
    assert temporary.startswith(TEMP_PREFIX + tag)  # cleanup finds it by the prefix
    assert temporary.endswith(TEMP_SUFFIX)  # no *.parquet glob takes it
    # Two long names never share a temporary name (two segments archived at once).
    other = temporary_name(_long_name(length, filler)[:-9] + "c.parquet", tag=tag)
    assert other != temporary


def test_a_short_name_keeps_its_readable_temporary_name() -> None:
    name = "1764417600000-ab12cd34-4242-7-0f0f0f.parquet"
    assert temporary_name(name, tag="move-7-") == f".tmp-move-7-{name}.partial"


def test_a_segment_named_near_the_limit_is_archived_across_filesystems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir, archive = tmp_path / "spool", tmp_path / "archive"
    written = write_segment(spool_dir, DAY, to_table(_events(5)))
    source = written.with_name(_long_name(240))
    written.rename(source)
    assert [s.name for s in list_segments(spool_dir)] == [f"day={DAY}/{source.name}"]

    def cross_device(source: Any, target: Any) -> None:
        raise OSError(18, "Invalid cross-device link")  # EXDEV: copy, then claim

    monkeypatch.setattr(os, "link", cross_device)
    target = archive / source.parent.name / source.name
    moved = segment_moves.move_without_replacing(source, target)

    assert moved.path == target
    assert not moved.renamed
    assert target.read_bytes()[:4] == b"PAR1"
    assert not source.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == [source.name]  # no temporary


def test_a_remote_segment_named_near_the_limit_is_downloaded(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    request.getfixturevalue("aws_env")
    client, bucket = request.getfixturevalue("client"), request.getfixturevalue("bucket")
    from analytics import objectstore

    written = write_segment(tmp_path / "spool", DAY, to_table(_events(3)))
    name = f"day={DAY}/{_long_name(236)}"
    client.put_object(Bucket=bucket, Key=f"p/{name}", Body=written.read_bytes())
    staging = tmp_path / "staging"

    objectstore.stage_remote_spool(f"s3://{bucket}/p", staging, set(), client=client)

    assert [s.name for s in list_segments(staging)] == [name]
    assert (staging / name).read_bytes() == written.read_bytes()
    assert [p.name for p in staging.rglob(".*")] == []
    assert os.path.getsize(staging / name) == written.stat().st_size
