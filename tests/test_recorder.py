from __future__ import annotations

import errno
import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import Recorder, spool
from analytics.event import Event
from analytics.recorder import Capture
from analytics.spool import list_segments, read_segment

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SITE = "example.com"
ADDRESS = "198.51.100.77"
DAY = date(2026, 11, 28)
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _event(path: str = "/", ts: datetime = NOON) -> Event:
    return Event(ts, "example.com", path, "GET", 200, None, None, "direct", None, None, None,
                 None, 1, "desktop", False, "undecided")  # fmt: skip


def _paths(spool_dir: Path) -> list[str]:
    return sorted(
        p for s in list_segments(spool_dir) for p in read_segment(s.path)["path"].to_pylist()
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"site": ""}, "site"),
        ({"record": "everything"}, "record"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"max_buffer": 0}, "max_buffer"),
        ({"trusted_proxies": ["nope"]}, "trusted_proxies"),
        ({"clock": "now"}, "clock"),
        ({"site": "exa mple.com"}, "site"),
    ],
)
def test_bad_options_raise_value_error(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    options: dict[str, Any] = {"site": "example.com", **kwargs}
    site = options.pop("site")
    with pytest.raises(ValueError, match=message):
        Recorder(tmp_path, site, **options)


def test_flush_writes_one_segment_per_utc_day(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com")
    recorder.add(_event("/a", NOON))
    recorder.add(_event("/b", NOON + timedelta(days=1)))
    recorder.add(_event("/c", datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)))
    assert recorder.flush() == 3
    segments = list_segments(tmp_path)
    assert [s.name.split("/")[0] for s in segments] == ["day=2026-11-28", "day=2026-11-29"]
    assert _paths(tmp_path) == ["/a", "/b", "/c"]
    assert recorder.flush() == 0  # nothing twice
    assert (recorder.stats.recorded, recorder.stats.flushed, recorder.stats.buffered) == (3, 3, 0)
    recorder.close()


def test_background_thread_flushes_on_its_own(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=0.05)
    recorder.add(_event("/x"))
    deadline = time.monotonic() + 10
    while recorder.stats.flushed < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _paths(tmp_path) == ["/x"]
    assert any(t.name == "analytics-flusher" and t.daemon for t in threading.enumerate())
    recorder.close()


def test_a_full_buffer_wakes_the_flusher_before_the_interval(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600, max_buffer=10)
    for i in range(5):  # half of max_buffer
        recorder.add(_event(f"/{i}"))
    deadline = time.monotonic() + 10
    while recorder.stats.flushed < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert recorder.stats.flushed == 5
    recorder.close()


def test_close_flushes_everything(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    for i in range(100):
        recorder.add(_event(f"/{i:03d}"))
    recorder.close()
    assert _paths(tmp_path) == [f"/{i:03d}" for i in range(100)]
    recorder.close()  # twice is fine
    assert recorder.stats.flushed == 100


def test_a_file_where_the_day_folder_should_be_keeps_the_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    blocker = tmp_path / "day=2026-11-28"
    blocker.write_text("not a folder")
    recorder.add(_event("/kept"))
    recorder.add(_event("/other-day", NOON + timedelta(days=1)))
    with caplog.at_level(logging.WARNING, logger="analytics"):
        assert recorder.flush() == 1  # the other day's segment is written
        recorder.add(_event("/kept-too"))
        assert recorder.flush() == 0
        assert recorder.flush() == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # once per failure streak, not once per try
    assert recorder.stats.errors == 3
    assert recorder.stats.buffered == 2
    blocker.unlink()
    with caplog.at_level(logging.WARNING, logger="analytics"):
        assert recorder.flush() == 2
    assert "writable again" in caplog.text
    assert _paths(tmp_path) == ["/kept", "/kept-too", "/other-day"]
    recorder.close()


def test_disk_full_then_recovery_with_bounded_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = pq.write_table
    disk_full = True

    def write_table(table: pa.Table, where: Any, **kwargs: Any) -> None:
        if disk_full:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(table, where, **kwargs)

    monkeypatch.setattr(pq, "write_table", write_table)  # what spool.write_segment calls
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600, max_buffer=50)
    monkeypatch.setattr(recorder, "_early_flush", 10**9)  # this test calls flush() itself
    for i in range(30):
        recorder.add(_event(f"/{i:03d}"))
    assert recorder.flush() == 0
    for i in range(30, 80):  # only 20 more fit: the 30 kept events count against max_buffer
        recorder.add(_event(f"/{i:03d}"))
    stats = recorder.stats
    assert (stats.recorded, stats.dropped, stats.buffered, stats.errors) == (50, 30, 50, 1)
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.rglob("*"))  # no debris
    disk_full = False
    assert recorder.flush() == 50
    assert _paths(tmp_path) == [f"/{i:03d}" for i in range(50)]  # the oldest were kept
    recorder.add(_event("/after"))  # room again
    recorder.close()
    assert recorder.stats.flushed == 51


def test_adding_never_waits_for_a_slow_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_write = spool.write_segment

    def slow_write(*args: Any) -> Path:
        release.wait(10)
        return real_write(*args)

    monkeypatch.setattr("analytics.recorder.write_segment", slow_write)
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    recorder.add(_event("/first"))
    flusher = threading.Thread(target=recorder.flush)
    flusher.start()
    time.sleep(0.05)
    start = time.monotonic()
    for i in range(1000):
        recorder.add(_event(f"/{i}"))
    blocked_for = time.monotonic() - start
    release.set()
    flusher.join()
    recorder.close()
    assert blocked_for < 1.0  # appends went on while the write hung
    assert len(_paths(tmp_path)) == 1001


def test_spam_is_counted(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com")
    recorder.count_spam()
    assert recorder.stats.spam == 1
    assert recorder.stats.recorded == 0


def test_close_deletes_expired_salts(tmp_path: Path) -> None:
    now = [NOON]
    recorder = Recorder(tmp_path, "example.com", clock=lambda: now[0])
    assert recorder.visitor_id(NOON.date(), "203.0.113.7", None, b"ua") is not None
    assert recorder.salts.days() == [NOON.date()]
    now[0] = NOON + timedelta(days=2)
    recorder.close()
    assert recorder.salts.days() == []
    assert (tmp_path / "salts").is_dir()


def test_hashing_off_creates_no_salt(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", visitor_hashing=False)
    assert recorder.visitor_id(NOON.date(), "203.0.113.7", None, b"ua") is None
    assert not (tmp_path / "salts").exists()


def test_an_unusable_salt_folder_gives_null_ids_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "salts").write_text("a file where the salt folder should be")
    recorder = Recorder(tmp_path, "example.com")
    with caplog.at_level(logging.WARNING, logger="analytics"):
        for _ in range(3):
            assert recorder.visitor_id(NOON.date(), "203.0.113.7", None, b"ua") is None
    assert len(caplog.records) == 1
    assert "203.0.113.7" not in caplog.text
    assert recorder.stats.errors == 3


def _capture(path: str = "/", ts: Any = NOON, user_agent: bytes = b"Mozilla/5.0") -> Capture:
    return Capture(ts, path, "GET", 200, b"", None, user_agent, "203.0.113.7", None, "all", True)


def test_a_capture_that_cannot_be_converted_is_dropped_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    broken = _capture("/broken", ts="not a datetime", user_agent=b"Secret-Agent/0.07")
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        recorder.add(broken)
        recorder.add(_capture("/fine"))
        assert recorder.flush() == 1
        recorder.add(broken)  # still failing: no second line for the same streak
        assert recorder.flush() == 0
    assert _paths(tmp_path) == ["/fine"]
    stats = recorder.stats
    assert (stats.recorded, stats.flushed, stats.errors, stats.buffered) == (1, 1, 2, 0)
    assert len(caplog.records) == 1
    assert "could not be turned into events (AttributeError)" in caplog.text
    for value in ("Secret-Agent", "203.0.113.7", "/broken", "not a datetime"):
        assert value not in caplog.text
    recorder.close()


def test_max_buffer_bounds_captures_and_events_together(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600, max_buffer=4)
    for i in range(3):
        recorder.add(_event(f"/event-{i}"))
        recorder.add(_capture(f"/capture-{i}"))
    assert (recorder.stats.buffered, recorder.stats.dropped) == (4, 2)
    recorder.close()
    assert _paths(tmp_path) == ["/capture-0", "/capture-1", "/event-0", "/event-1"]


def test_convert_turns_captures_into_events_in_order_and_writes_nothing(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    recorder.add(_capture("/a"))
    recorder.add(_event("/b"))
    recorder.add(_capture("/c", ts=NOON.astimezone(timezone(timedelta(hours=5)))))
    recorder.convert()
    assert recorder._buffer == []  # no capture left
    buffered = recorder.pending_events()
    assert [type(item) for item in buffered] == [Event, Event, Event]
    assert [event.path for event in buffered] == ["/a", "/b", "/c"]
    assert buffered[2].ts == NOON
    assert buffered[2].ts.tzinfo is UTC
    assert buffered[0].visitor_id == buffered[2].visitor_id is not None
    assert (recorder.stats.recorded, recorder.stats.flushed) == (3, 0)
    assert list_segments(tmp_path) == []
    recorder.close()


@pytest.mark.parametrize(
    "captured_ts",
    [NOON, NOON.timestamp(), NOON.astimezone(timezone(timedelta(hours=-8)))],
    ids=["utc-datetime", "unix-seconds", "other-offset"],
)
def test_a_captured_time_becomes_an_aware_utc_ts(tmp_path: Path, captured_ts: Any) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    recorder.add(_capture(ts=captured_ts))
    recorder.convert()
    assert recorder._buffer == []
    (event,) = recorder.pending_events()
    assert isinstance(event, Event)
    assert event.ts == NOON
    assert event.ts.tzinfo is UTC
    recorder.close()
    assert [s.name.split("/")[0] for s in list_segments(tmp_path)] == ["day=2026-11-28"]


def test_the_default_clock_stamps_captures_with_the_current_time(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "example.com", flush_interval=3600)
    before = datetime.now(UTC)
    recorder.add(_capture(ts=recorder.capture_clock()))
    recorder.convert()
    assert recorder._buffer == []
    (event,) = recorder.pending_events()
    assert isinstance(event, Event)
    assert before.replace(microsecond=0) <= event.ts <= datetime.now(UTC)
    recorder.close()


def test_an_event_added_while_close_runs_does_not_stop_the_flusher_for_good(
    tmp_path: Path,
) -> None:
    # A request can finish while lifespan shutdown closes the recorder. Whatever it adds
    # then waits for the next flush; requests after close() still get a working flusher.
    class AddsDuringClose(Recorder):
        adding = True

        def flush(self) -> int:
            written = super().flush()
            if self._closed and self.adding:  # close()'s own flush is done: too late for it
                self.adding = False
                self.add(_late_capture())
            return written

    recorder = AddsDuringClose(spool_dir=tmp_path / "spool", site="example.com", flush_interval=0.2)
    try:
        recorder.add(_late_capture())
        recorder.close()
        assert recorder.stats.flushed == 1
        assert recorder.stats.buffered == 1  # added during close: waits, not lost
        recorder.add(_late_capture())
        deadline = time.monotonic() + 10
        while recorder.stats.flushed < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert recorder.stats.flushed == 3  # a live background flusher wrote both
    finally:
        recorder.close()


def _late_capture() -> Capture:
    return Capture(
        time.time(), "/late", "GET", 200, b"", None, b"Mozilla/5.0", None, None, "all", False
    )


def test_a_fork_while_the_parent_hashes_does_not_deadlock_the_child(tmp_path: Path) -> None:
    import multiprocessing

    recorder = Recorder(spool_dir=tmp_path / "spool", site="example.com")
    hasher = recorder._hasher
    assert hasher is not None
    try:
        # The parent's flusher is inside the hasher's lock (making the day's salt) right
        # when a worker forks; in the child no thread will ever release that copy.
        with hasher._lock:
            child = multiprocessing.get_context("fork").Process(
                target=_hash_one_and_flush, args=(recorder,)
            )
            child.start()
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail("the child hung on the lock it inherited")
        assert child.exitcode == 0
        [segment] = list_segments(tmp_path / "spool")
        assert read_segment(segment.path).num_rows == 1
    finally:
        recorder.close()


def _hash_one_and_flush(recorder: Recorder) -> None:
    capture = Capture(
        time.time(), "/", "GET", 200, b"", None, b"Mozilla/5.0", "203.0.113.9", None, "all", True
    )
    recorder.add(capture)
    assert recorder.flush() == 1


# --- exclude_paths: a pattern that cannot work is a ValueError, never a failed request ----


@pytest.mark.parametrize(
    "patterns",
    [
        [b"/admin/*"],  # bytes: fnmatch raised TypeError inside every request (a 500)
        ["/ok", 42],
        ["admin/*"],  # paths start with "/": this never matched anything
        [""],
    ],
)
def test_an_unusable_exclude_pattern_is_a_value_error(tmp_path: Path, patterns: list[Any]) -> None:
    with pytest.raises(ValueError, match="exclude_paths"):
        Recorder(tmp_path / "spool", SITE, exclude_paths=patterns)


@pytest.mark.parametrize("patterns", [["/admin/*"], ["*.css", "/healthz"], ["?ealthz"], ()])
def test_usable_exclude_patterns_are_taken(tmp_path: Path, patterns: list[str]) -> None:
    from analytics.recorder import ALWAYS_EXCLUDED

    recorder = Recorder(tmp_path / "spool", SITE, exclude_paths=patterns)
    recorder.close()
    assert recorder.exclude_paths == ALWAYS_EXCLUDED + tuple(patterns)


# --- a salt folder that breaks, recovers and breaks again is reported each time -----------


def test_every_salt_failure_streak_is_logged_and_recovery_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    salts = tmp_path / "salts"
    recorder = Recorder(tmp_path / "spool", SITE, salt_dir=salts, flush_interval=3600)
    try:
        with caplog.at_level(logging.DEBUG, logger="analytics"):
            salts.write_text("a file where the folder should be (a bad deploy)")
            for _ in range(3):  # one streak: one line
                assert recorder.visitor_id(DAY, ADDRESS, None, FIREFOX) is None
            salts.unlink()
            assert recorder.visitor_id(DAY, ADDRESS, None, FIREFOX) is not None
            salts.rename(tmp_path / "moved")  # the next day: broken again
            salts.write_text("broken again")
            assert recorder.visitor_id(DAY + timedelta(days=1), ADDRESS, None, FIREFOX) is None
    finally:
        recorder.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "analytics"]
    failures = [line for line in lines if "cannot read or create the day's salt" in line]
    assert len(failures) == 2, lines  # the second streak went unreported
    assert any("salt folder works again" in line for line in lines), lines
    assert recorder.stats.errors == 4
    assert ADDRESS not in caplog.text
