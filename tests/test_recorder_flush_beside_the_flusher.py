"""`recorder.flush()` beside the background flusher: when it returns, every event added
before the call is in a sealed segment, whatever the flusher was doing; its return value
counts what this call wrote, and `stats.flushed` counts everything written.

A background write that had already taken part of the buffer is waited for (one write lock),
so the caller never reads a spool that lacks an event it recorded; the return value then
leaves those events out (README: Recording traffic → Options)."""

from __future__ import annotations

import threading
from pathlib import Path

from analytics.recorder import Recorder
from analytics.spool import list_segments, read_segment
from tests.recording_support import SITE, capture


def _on_disk(spool: Path) -> int:
    return sum(read_segment(s.path).num_rows for s in list_segments(spool))


def test_everything_added_before_flush_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    # A flusher that runs all the time, so that flush() keeps meeting one in mid-write.
    recorder = Recorder(spool_dir=spool, site=SITE, flush_interval=0.001)
    try:
        returned = 0
        added = 0
        for round_ in range(200):
            for _ in range(1 + round_ % 7):
                recorder.add(capture(f"/p/{round_}"))
                added += 1
            returned += recorder.flush()
            # Everything added so far is on disk now, not merely "soon".
            assert _on_disk(spool) == added
        stats = recorder.stats
        assert stats.flushed == added == _on_disk(spool)
        assert returned <= added  # the flusher wrote the rest, counted in stats only
    finally:
        recorder.close()


def test_flush_from_several_threads_loses_and_doubles_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    recorder = Recorder(spool_dir=spool, site=SITE, flush_interval=0.001)
    per_thread = 300

    def work(name: int) -> None:
        for i in range(per_thread):
            recorder.add(capture(f"/t/{name}/{i}"))
            if i % 10 == 0:
                recorder.flush()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        recorder.flush()
        paths = [
            row["path"]
            for segment in list_segments(spool)
            for row in read_segment(segment.path).to_pylist()
        ]
        assert len(paths) == len(set(paths)) == 4 * per_thread
        assert recorder.stats.flushed == 4 * per_thread
    finally:
        recorder.close()
