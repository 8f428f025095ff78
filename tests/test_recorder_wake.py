"""The request path wakes the flusher once per early-flush crossing, not on every request.

Past the early-flush mark (half of `max_buffer`, at most 10 000), every `add()` used to call
`Event.set()` (a lock and a notify) until the flusher took the buffer: on a busy worker whose
flusher waits for the GIL, that was thousands of calls per second on the event loop.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.event import Event
from analytics.spool import list_segments, read_segment

NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)


class CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def _event(index: int) -> Event:
    return Event(NOON, "example.com", f"/p{index}", "GET", 200, None, None, "direct", None,
                 None, None, None, 1, "desktop", False, "undecided")  # fmt: skip


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    # No flusher thread: the test plays it, so nothing takes the buffer behind its back.
    recorder = Recorder(tmp_path / "spool", "example.com", max_buffer=10, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    recorder._wake = CountingEvent()
    return recorder


def _wakes(recorder: Recorder) -> int:
    wake = recorder._wake
    assert isinstance(wake, CountingEvent)
    return wake.sets


def test_one_wake_per_crossing_of_the_early_flush_mark(recorder: Recorder) -> None:
    for index in range(4):
        recorder.add(_event(index))
    assert _wakes(recorder) == 0  # below half of max_buffer: nothing to hurry
    for index in range(4, 9):
        recorder.add(_event(index))
    assert _wakes(recorder) == 1  # crossed at 5, and the four after it asked nothing
    assert recorder._wake.is_set()


def test_taking_the_buffer_lets_the_next_crossing_wake_again(recorder: Recorder) -> None:
    for index in range(6):
        recorder.add(_event(index))
    recorder.flush()  # what the woken flusher does: takes the buffer (and writes it)
    for index in range(6, 10):
        recorder.add(_event(index))
    assert _wakes(recorder) == 1  # 4 after the take: below the mark again
    recorder.add(_event(10))
    assert _wakes(recorder) == 2


def test_events_past_the_mark_are_all_kept_and_written_once(
    recorder: Recorder, tmp_path: Path
) -> None:
    for index in range(9):
        recorder.add(_event(index))
    recorder.flush()
    paths = [
        path
        for segment in list_segments(tmp_path / "spool")
        for path in read_segment(segment.path).column("path").to_pylist()
    ]
    assert sorted(paths) == sorted(f"/p{index}" for index in range(9))
    assert recorder.stats.dropped == 0


def test_a_real_flusher_woken_by_the_crossing_writes_without_waiting_for_its_interval(
    tmp_path: Path,
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", max_buffer=10, flush_interval=3600)
    try:
        for index in range(5):
            recorder.add(_event(index))
        deadline = time.monotonic() + 30  # a liveness bound, not a timing: it takes ms
        while not list_segments(tmp_path / "spool") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list_segments(tmp_path / "spool"), "the early flush did not happen"
    finally:
        recorder.close()
