"""The uploader ships every sealed segment: past segments it cannot read and entries that are no
files (retried after their backoff), after a recorder closes, and when a segment was written
after the previous uploader stopped. Object storage is moto's S3 server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import to_table
from analytics.objectstore import SegmentUploader
from analytics.recorder import Recorder
from analytics.spool import list_segments, write_segment
from tests.objectstore_support import (
    MOTO_MISSING,
    client_with_bucket,
    events_from_hacker_news,
    new_bucket_name,
    remote_objects,
    running_s3_server,
    seal_segments,
    wait_for,
)
from tests.warehouse_support import numbered_events

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")


DAY = date(2026, 11, 28)


def _one_segment(spool: Path, day: date = DAY, events: int = 4) -> str:
    path = write_segment(spool, day, to_table(events_from_hacker_news(events, day)))
    return f"{path.parent.name}/{path.name}"


class _Unreadable:
    """Regular segment files the uploader cannot read (EACCES). Root reads a 0o000 file all
    the same, so under root the read itself is refused for these paths: the uploader's
    handling of the error is what is tested. (A folder or a symlink loop in a segment's place
    is no segment at all: `list_segments` skips it, see the test after these.)"""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: set[Path] = set()
        original = Path.read_bytes

        def read_bytes(path: Path) -> bytes:
            if path in self.paths:
                raise PermissionError(13, "Permission denied", str(path))
            return original(path)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)

    def make(self, path: Path, body: bytes = b"PAR1 garbage PAR1") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        path.chmod(0)
        self.paths.add(path)

    def repair(self, path: Path) -> None:
        path.chmod(0o644)
        self.paths.discard(path)


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> _Unreadable:
    return _Unreadable(monkeypatch)


def test_an_unreadable_segment_is_skipped_and_the_others_are_shipped(
    tmp_path: Path,
    client: Any,
    bucket: str,
    unreadable: _Unreadable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: read_bytes() raised, the whole pass failed and backed off, and the next pass
    # met the same segment first (listing is sorted): nothing after it ever shipped.
    spool = tmp_path / "spool"
    bad_name = f"day={DAY - timedelta(days=1)}/0000000000000-bad-1-000001-00000000.parquet"
    unreadable.make(spool / bad_name)
    good = seal_segments(spool, 3)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    caplog.set_level(logging.DEBUG, logger="analytics.objectstore")

    assert uploader.upload_pending() == 3
    assert remote_objects(client, bucket, "p") == good
    assert [s.name for s in list_segments(spool)] == [bad_name]  # left where it is
    stats = uploader.stats
    assert (stats.uploaded, stats.unreadable, stats.consecutive_failures) == (3, 1, 0)

    # Within its backoff the bad one is not tried again, and not logged again.
    assert uploader.upload_pending() == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert bad_name in warnings[0].getMessage()
    assert str(tmp_path) not in warnings[0].getMessage()  # the name, not a local path


@pytest.mark.parametrize("kind", ["a folder in its place", "a symlink loop"])
def test_an_entry_that_is_no_file_is_not_a_segment_and_the_others_are_shipped(
    tmp_path: Path, client: Any, bucket: str, kind: str
) -> None:
    spool = tmp_path / "spool"
    bad = spool / f"day={DAY - timedelta(days=1)}/0000000000000-bad-1-000001-00000000.parquet"
    bad.parent.mkdir(parents=True)
    if kind == "a folder in its place":
        (bad / "inner").mkdir(parents=True)
    else:
        os.symlink(bad.name, bad)  # points at itself: open() would fail with ELOOP
    good = seal_segments(spool, 3)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    assert uploader.upload_pending() == 3
    assert remote_objects(client, bucket, "p") == good
    assert list_segments(spool) == []  # never listed, so never read or shipped
    assert os.path.lexists(bad)  # and left where it is
    assert (uploader.stats.unreadable, uploader.stats.consecutive_failures) == (0, 0)


def test_an_unreadable_segment_is_tried_again_after_its_backoff(
    tmp_path: Path, client: Any, bucket: str, unreadable: _Unreadable
) -> None:
    spool = tmp_path / "spool"
    name = _one_segment(spool)
    body = (spool / name).read_bytes()
    unreadable.make(spool / name, body)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=2.0)
    assert uploader.upload_pending() == 0
    assert uploader.stats.unreadable == 1

    # Repaired (say, an operator fixed the file's mode): not before the backoff is over ...
    unreadable.repair(spool / name)
    assert uploader.upload_pending() == 0
    assert remote_objects(client, bucket, "p") == {}

    # ... but then, without anything else to wake it.
    wait_for(lambda: uploader.upload_pending() == 1, timeout=10)
    assert remote_objects(client, bucket, "p") == {name: body}
    assert uploader.stats.unreadable == 0


def test_the_upload_thread_ships_past_an_unreadable_segment(
    tmp_path: Path, client: Any, bucket: str, unreadable: _Unreadable
) -> None:
    spool = tmp_path / "spool"
    unreadable.make(spool / f"day={DAY}/0000000000000-bad.parquet")
    uploader = SegmentUploader(
        spool, f"s3://{bucket}/p", client=client, interval=0.05, initial_backoff=0.05
    ).start()
    try:
        good = seal_segments(spool, 2)
        uploader.notify()
        wait_for(lambda: len(list_segments(spool)) == 1, timeout=10)
    finally:
        uploader.stop()
    assert remote_objects(client, bucket, "p") == good
    assert uploader.stats.failed_passes == 0


SEGMENT_DAY = date(2026, 11, 20)


def test_a_recorder_closed_after_segments_were_sealed_ships_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_s3_server() as server:
        bucket = new_bucket_name()
        client = client_with_bucket(server, bucket)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
        spool = tmp_path / "spool"
        recorder = Recorder(spool, site="example.com", spool_url=f"s3://{bucket}/s")
        for event in numbered_events(30, SEGMENT_DAY):
            recorder.add(event)
        recorder.close()
        assert list_segments(spool) == []
        remote = remote_objects(client, bucket, "s")
        assert len(remote) == 1
        assert all(name.startswith("day=2026-11-20/") for name in remote)


def test_a_segment_written_after_the_uploader_stopped_is_shipped_by_the_next_one(
    tmp_path: Path,
) -> None:
    with running_s3_server() as server:
        bucket = new_bucket_name()
        client = client_with_bucket(server, bucket)
        spool = tmp_path / "spool"
        write_segment(spool, SEGMENT_DAY, to_table(numbered_events(3, SEGMENT_DAY)))
        first = SegmentUploader(spool, f"s3://{bucket}/s", client=client)
        first.start()
        first.stop(flush=False)
        second = SegmentUploader(spool, f"s3://{bucket}/s", client=client)
        assert second.upload_pending() == 1
        assert len(remote_objects(client, bucket, "s")) == 1
