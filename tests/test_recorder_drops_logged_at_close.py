"""A drop streak still running when the recorder closes (a worker stopping while its buffer is
full: the usual end of a disk that filled) is logged with its count: the line that says how
many were dropped came only from a later flush that found no new drop, which never comes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from analytics import Recorder
from tests.recording_support import capture


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "analytics"]


@pytest.mark.parametrize("flushed_before", [False, True], ids=["close-only", "flushed-first"])
def test_a_streak_running_at_close_is_logged_with_its_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, flushed_before: bool
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", max_buffer=5, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(8):  # 5 fit, 3 dropped
            recorder.add(capture(f"/p{n}"))
        if flushed_before:
            recorder.flush()  # the streak begins (one error line)
            for n in range(7):  # 5 fit, 2 more dropped
                recorder.add(capture(f"/q{n}"))
        recorder.close()
    dropped = recorder.stats.dropped
    assert dropped == (5 if flushed_before else 3)
    lines = _lines(caplog)
    assert sum("buffer is full" in line for line in lines) == 1, lines
    counted = [line for line in lines if f"{dropped} events were dropped" in line]
    assert len(counted) == 1, lines


def test_a_closed_streak_is_not_logged_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", max_buffer=5, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="analytics"):
        for n in range(6):
            recorder.add(capture(f"/p{n}"))
        recorder.flush()
        recorder.flush()  # the streak ends: its count logged here
        recorder.close()
        recorder.close()
    lines = _lines(caplog)
    assert sum("events were dropped" in line for line in lines) == 1, lines
