"""Events dropped on a full buffer are logged, not only counted: an operator whose disk filled
read "keeping events in memory", then "buffered events written", and believed nothing was lost,
while `stats.dropped` (which a server shows nowhere) said hundreds were."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics import Recorder
from tests.recording_support import capture


def _recorder(tmp_path: Path) -> Recorder:
    recorder = Recorder(tmp_path / "spool", "example.com", max_buffer=5, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    return recorder


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "analytics"]


def test_a_drop_streak_is_logged_when_it_begins_and_with_its_count_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = _recorder(tmp_path)
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(8):  # 5 fit, 3 dropped
            recorder.add(capture(f"/p{n}"))
        assert recorder.stats.dropped == 3
        recorder.flush()
        began = _lines(caplog)
        assert len(began) == 1, began
        assert "buffer is full (max_buffer=5)" in began[0]
        assert "dropped" in began[0]
        recorder.add(capture("/late"))
        for _ in range(6):  # 4 fit, 2 more dropped in the same streak: no new line
            recorder.add(capture("/more"))
        recorder.flush()
        assert len(_lines(caplog)) == 1
        recorder.flush()  # nothing dropped since: the streak is over, with its count
        lines = _lines(caplog)
        assert len(lines) == 2, lines
        assert "recording again: 5 events were dropped" in lines[1]
        recorder.flush()
        assert len(_lines(caplog)) == 2  # said once
    recorder.close()
    assert recorder.stats.dropped == 5


def test_no_drop_no_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = _recorder(tmp_path)
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(5):
            recorder.add(capture(f"/p{n}"))
        recorder.flush()
        recorder.flush()
    recorder.close()
    assert _lines(caplog) == []
    assert recorder.stats.dropped == 0
