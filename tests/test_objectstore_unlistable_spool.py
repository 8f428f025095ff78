"""A spool day folder the uploader may not list (made by another user with mode 0700, the
case the warehouse's own listing names) fails the pass with one log line saying why, and the
pass is retried after its backoff: no traceback logged as "unexpected", no "see log" in the
stats. Object storage is moto's S3 server on 127.0.0.1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.objectstore import SegmentUploader
from analytics.spool import SpoolError
from tests.objectstore_support import MOTO_MISSING, remote_objects, seal_segments

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")

DAY = date(2026, 11, 28)


class _Unlistable:
    """Day folders the uploader may not list (EACCES). Root lists a 0o700 folder of another
    user all the same, so under root the listing itself is refused for these folders."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folders: set[Path] = set()
        original = Path.iterdir

        def iterdir(path: Path) -> Iterator[Path]:
            if path in self.folders:
                raise PermissionError(13, "Permission denied", str(path))
            return original(path)

        monkeypatch.setattr(Path, "iterdir", iterdir)


@pytest.fixture
def unlistable(monkeypatch: pytest.MonkeyPatch) -> _Unlistable:
    return _Unlistable(monkeypatch)


def test_an_unlistable_day_folder_is_one_warning_line_and_a_backoff(
    tmp_path: Path,
    client: Any,
    bucket: str,
    unlistable: _Unlistable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: list_segments' SpoolError was none of the errors the uploader expects, so the
    # thread logged it at ERROR as "unexpected error while uploading the spool" with a full
    # traceback, on every pass, and stats.last_error said only "unexpected error (see log)".
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 2)
    folder = spool / f"day={DAY - timedelta(days=3)}"
    folder.mkdir()
    unlistable.folders.add(folder)
    caplog.set_level(logging.DEBUG, logger="analytics.objectstore")
    uploader = SegmentUploader(
        spool, f"s3://{bucket}/p", client=client, interval=0.05, initial_backoff=60
    ).start()
    deadline = time.monotonic() + 10
    while uploader.stats.failed_passes < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    uploader.stop(flush=False)

    stats = uploader.stats
    assert stats.failed_passes == 1
    assert stats.last_error is not None
    assert "Permission denied" in stats.last_error
    assert stats.next_attempt_in > 30  # backed off, not retried in a loop
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "\n" not in records[0].getMessage()
    assert "Permission denied" in records[0].getMessage()
    assert "Traceback" not in caplog.text

    # Called directly, the pass says the same; once the folder can be listed, all ships.
    with pytest.raises(SpoolError, match="Permission denied"):
        uploader.upload_pending()
    unlistable.folders.clear()
    assert uploader.upload_pending() == 2
    assert remote_objects(client, bucket, "p") == sealed
    assert uploader.stats.consecutive_failures == 0
