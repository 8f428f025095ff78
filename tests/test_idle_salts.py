"""On a quiet site no event comes to delete yesterday's-yesterday salt: the flusher's tick
does it once a day, and drops the day's key from memory with it, so neither outlives the
48 hours the README promises (before, both lived until the next event or close())."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import analytics.recorder as recorder_module
from analytics import Recorder
from analytics.event import Event

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event() -> Event:
    return Event(
        START, "example.com", "/", "GET", 200, None, None, "direct", None, None, None,
        None, None, "desktop", False, "undecided",
    )  # fmt: skip


def _wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_an_idle_recorder_deletes_expired_salts_and_forgets_their_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flusher never calls a configured clock (a replay's would skip a timestamp): its
    # "now" is the newest event's time moved on by the real time since, which this moves.
    now = [START]
    later = [0.0]
    monkeypatch.setattr(recorder_module, "_monotonic", lambda: time.monotonic() + later[0])
    recorder = Recorder(
        tmp_path / "spool", "example.com", clock=lambda: now[0], flush_interval=3600
    )
    try:
        recorder.add(_event())
        assert recorder.visitor_id(START.date(), "203.0.113.7", None, b"Firefox") is not None
        assert recorder.salts.days() == [START.date()]
        hasher = recorder._hasher
        assert hasher is not None
        assert hasher._state is not None  # the day's key, in memory

        recorder.convert()  # the event's time is the recorder's latest
        later[0] = timedelta(days=1).total_seconds()  # yesterday's salt stays (across midnight)
        time.sleep(1.5)  # more than one conversion tick
        assert recorder.salts.days() == [START.date()]
        assert hasher._state is not None

        later[0] = timedelta(days=2).total_seconds()  # no event at all that day
        assert _wait_for(lambda: recorder.salts.days() == [])
        assert _wait_for(lambda: hasher._state is None and hasher._previous is None)
    finally:
        recorder.close()


def test_without_hashing_the_tick_touches_nothing(tmp_path: Path) -> None:
    now = [START]
    recorder = Recorder(
        tmp_path / "spool",
        "example.com",
        clock=lambda: now[0],
        flush_interval=3600,
        visitor_hashing=False,
    )
    try:
        recorder.add(_event())
        now[0] = START + timedelta(days=3)
        time.sleep(1.5)
        assert recorder.salts.days() == []
    finally:
        recorder.close()
