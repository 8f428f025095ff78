"""Second review of the object-storage path: each test pins a failure a user would hit when
shipping the spool to S3 or rolling up from it. Object storage is moto's S3 server on
127.0.0.1 (see tests/test_objectstore.py); the local files are real files."""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import to_table
from analytics.objectstore import (
    SegmentUploader,
)
from analytics.spool import list_segments, write_segment
from tests.test_objectstore import (  # noqa: F401 - aws_env is autouse: dummy credentials
    S3Server,
    _events,
    _remote,
    _seal,
    _wait_for,
    aws_env,
    make_client,
)

pytest.importorskip("moto.server", reason="moto[server] is not installed")

DAY = date(2026, 11, 28)
SECRET = "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY"
CLOCK = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    s3 = S3Server()
    s3.start()
    yield s3
    s3.stop()


@pytest.fixture
def bucket() -> str:
    return f"rev2-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server: S3Server, bucket: str) -> Any:
    s3 = make_client(endpoint_url=server.url, connect_timeout=2, read_timeout=5)
    s3.create_bucket(Bucket=bucket)
    return s3


@pytest.fixture
def gets(client: Any) -> Counter[str]:
    """Every key S3 was asked for (GetObject), counted: the proof of what was downloaded."""
    counted: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        counted[params["Key"]] += 1

    client.meta.events.register("before-parameter-build.s3.GetObject", count)
    return counted


def _one_segment(spool: Path, day: date = DAY, events: int = 4) -> str:
    path = write_segment(spool, day, to_table(_events(events, day)))
    return f"{path.parent.name}/{path.name}"


# --- 1. one unreadable local segment must not hold back the others ---------------------------


def _make_unreadable(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "a folder in its place":
        (path / "inner").mkdir(parents=True)
    elif kind == "a symlink loop":
        os.symlink(path.name, path)  # points at itself: open() fails with ELOOP
    else:
        raise AssertionError(kind)


UNREADABLE_KINDS = ["a folder in its place", "a symlink loop"]


@pytest.mark.parametrize("kind", UNREADABLE_KINDS)
def test_an_unreadable_segment_is_skipped_and_the_others_are_shipped(
    tmp_path: Path, client: Any, bucket: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: read_bytes() raised, the whole pass failed and backed off, and the next pass
    # met the same segment first (listing is sorted): nothing after it ever shipped.
    spool = tmp_path / "spool"
    bad_name = f"day={DAY - timedelta(days=1)}/0000000000000-bad-1-000001-00000000.parquet"
    _make_unreadable(spool / bad_name, kind)
    good = _seal(spool, 3)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    caplog.set_level(logging.DEBUG, logger="analytics.objectstore")

    assert uploader.upload_pending() == 3
    assert _remote(client, bucket, "p") == good
    assert [s.name for s in list_segments(spool)] == [bad_name]  # left where it is
    stats = uploader.stats
    assert (stats.uploaded, stats.unreadable, stats.consecutive_failures) == (3, 1, 0)

    # Within its backoff the bad one is not tried again, and not logged again.
    assert uploader.upload_pending() == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert bad_name in warnings[0].getMessage()
    assert str(tmp_path) not in warnings[0].getMessage()  # the name, not a local path


def test_an_unreadable_segment_is_tried_again_after_its_backoff(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    name = _one_segment(spool)
    body = (spool / name).read_bytes()
    (spool / name).unlink()
    _make_unreadable(spool / name, "a folder in its place")
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=2.0)
    assert uploader.upload_pending() == 0
    assert uploader.stats.unreadable == 1

    # Repaired (say, an operator restored the file): not before the backoff is over ...
    (spool / name / "inner").rmdir()
    (spool / name).rmdir()
    (spool / name).write_bytes(body)
    assert uploader.upload_pending() == 0
    assert _remote(client, bucket, "p") == {}

    # ... but then, without anything else to wake it.
    _wait_for(lambda: uploader.upload_pending() == 1, timeout=10)
    assert _remote(client, bucket, "p") == {name: body}
    assert uploader.stats.unreadable == 0


def test_the_upload_thread_ships_past_an_unreadable_segment(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    _make_unreadable(spool / f"day={DAY}/0000000000000-bad.parquet", "a folder in its place")
    uploader = SegmentUploader(
        spool, f"s3://{bucket}/p", client=client, interval=0.05, initial_backoff=0.05
    ).start()
    try:
        good = _seal(spool, 2)
        uploader.notify()
        _wait_for(lambda: len(list_segments(spool)) == 1, timeout=10)
    finally:
        uploader.stop()
    assert _remote(client, bucket, "p") == good
    assert uploader.stats.failed_passes == 0
