"""A segment is sealed once it is renamed into place: no error after that may reach the
recorder, which would keep the events and write them again (counted twice).

Seen in CI: a gunicorn worker stopping (SIGTERM) while its recorder flushed logged
"cannot write to the spool ([Errno 9] Bad file descriptor)", and 16 page views were in two
segments. Closing the day folder's descriptor, after the rename, had failed with EBADF (the
worker's server was closing descriptors of its own at shutdown). Here `os.close` fails that
way for folders, as it did there.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.event import Event
from analytics.spool import list_segments, read_segment
from tests.warehouse_support import DIRECT_VISIT


def _closing_folders_fails(real_close: Callable[[int], None]) -> Callable[[int], None]:
    def close(fd: int) -> None:
        is_folder = stat.S_ISDIR(os.fstat(fd).st_mode)
        real_close(fd)
        if is_folder:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    return close


def test_an_error_after_the_rename_writes_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = datetime(2026, 11, 30, 14, 36, 14, tzinfo=UTC)
    recorder = Recorder(tmp_path / "spool", site="example.com", flush_interval=3600)
    try:
        paths = [f"/page/{n}" for n in range(16)]
        for path in paths:
            recorder.add(Event(**{**DIRECT_VISIT._asdict(), "ts": when, "path": path}))
        monkeypatch.setattr(os, "close", _closing_folders_fails(os.close))
        first = recorder.flush()
        monkeypatch.undo()
        recorder.add(Event(**{**DIRECT_VISIT._asdict(), "ts": when, "path": "/page/late"}))
        second = recorder.flush()
    finally:
        recorder.close()

    assert (first, second) == (16, 1)
    written = Counter(
        path
        for segment in list_segments(tmp_path / "spool")
        for path in read_segment(segment.path).column("path").to_pylist()
    )
    assert written == Counter([*paths, "/page/late"])
    assert recorder.stats.errors == 0
