"""A recorder closed while its spool cannot be written (the disk full, the folder gone) loses
what it holds: one error line says how many and why, and `stats.dropped` counts them.

Before, `close()` returned normally and said nothing: the log's last word was the failure
streak's "keeping events in memory and retrying", and no retry came (a worker stopped by
SIGTERM while its disk was full lost its whole buffer unseen). The faults are real: a small
tmpfs filled to ENOSPC (needs root and `mount`), a spool folder or day folder replaced by a
file.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.event import Event
from analytics.spool import list_segments, read_segment
from tests.disk_support import mounted_tmpfs
from tests.recording_support import page_view, unhashed_recorder

START = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def _event(n: int, day_offset: int = 0) -> Event:
    return page_view(START - timedelta(days=day_offset) + timedelta(seconds=n), f"/p/{n}")


def _lost_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "analytics" and "are lost" in r.getMessage()]


def _written(spool: Path) -> int:
    return sum(read_segment(seg.path).num_rows for seg in list_segments(spool))


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "1m") as mount_point:
        yield mount_point


def test_a_close_on_a_full_disk_says_how_many_events_are_lost(
    full_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = full_tmpfs / "spool"
    recorder = unhashed_recorder(spool)
    # Fill the disk to its last byte (dd stops at ENOSPC).
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={full_tmpfs / 'filler'}", "bs=4k"],
        capture_output=True,
        check=False,
    )
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(300):
            recorder.add(_event(n))
        recorder.close()  # what TrafficMiddleware does at the lifespan shutdown (SIGTERM)
        recorder.close()  # and the at-exit close after it: nothing left to lose or say
    assert not any("writable again" in r.getMessage() for r in caplog.records)
    lines = _lost_lines(caplog)
    assert [r.getMessage() for r in lines] == [
        "analytics: closing: 300 events could not be written to the spool "
        "(No space left on device) and are lost"
    ]
    assert lines[0].levelno == logging.ERROR
    stats = recorder.stats
    assert (stats.flushed, stats.dropped, stats.buffered) == (0, 300, 0)
    assert list_segments(spool) == []


def test_a_spool_folder_gone_at_close_loses_the_buffer_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    recorder = unhashed_recorder(spool)
    for n in range(50):
        recorder.add(_event(n))
    recorder.flush()
    shutil.rmtree(spool)
    spool.write_text("a file where the spool folder was")  # root ignores a read-only mode
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(50, 120):
            recorder.add(_event(n))
        recorder.close()
    (line,) = _lost_lines(caplog)
    assert line.getMessage() == (
        "analytics: closing: 70 events could not be written to the spool (Not a directory) "
        "and are lost"
    )
    stats = recorder.stats
    assert (stats.flushed, stats.dropped, stats.buffered) == (50, 70, 0)
    assert stats.recorded == 120  # taken into the buffer, then lost: recorded and dropped


def test_only_the_day_that_cannot_be_written_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    recorder = unhashed_recorder(spool)
    yesterday = spool / f"day={(START - timedelta(days=1)).date().isoformat()}"
    yesterday.write_text("a file where the day folder should be")
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(40):
            recorder.add(_event(n, day_offset=n % 2))  # 20 today, 20 yesterday
        recorder.close()
    (line,) = _lost_lines(caplog)
    assert "closing: 20 events could not be written" in line.getMessage()
    stats = recorder.stats
    assert (stats.flushed, stats.dropped, stats.buffered) == (20, 20, 0)
    assert _written(spool) == 20  # each written once, none twice


def test_a_close_that_writes_everything_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A flush failed earlier, the spool came back before the stop: nothing is lost or said.
    spool = tmp_path / "spool"
    recorder = unhashed_recorder(spool)
    shutil.rmtree(spool)
    spool.write_text("in the way for now")
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(30):
            recorder.add(_event(n))
        recorder.flush()
        assert recorder.stats.buffered == 30
        spool.unlink()
        recorder.close()
    assert _lost_lines(caplog) == []
    stats = recorder.stats
    assert (stats.flushed, stats.dropped, stats.buffered) == (30, 0, 0)
    assert _written(spool) == 30
