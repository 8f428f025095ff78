"""One value the recorder cannot convert or store drops only its own row, never the batch or
the events converted before it: an odd status (an http.HTTPStatus is a plain int), a lone
surrogate, a bad Event added as it is, a referrer parser with a bug, a broken clock value, a
write that fails with a non-disk error. Failures are counted and logged without the request.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import functools
import http
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from analytics import Recorder
from analytics.capture import batch_to_table
from analytics.event import Event
from analytics.referrers import Referrer, referrer_parser
from tests.recording_support import ADDRESS, SITE, capture, spooled

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# Raw values that must never reach a log line.
POISON_HOST = b"poison-quokka.example"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def spooled_paths(recorder: Recorder) -> list[str]:
    return sorted(row["path"] for row in spooled(recorder))


def event(path: str = "/", **changes: Any) -> Event:
    return Event(NOON, "example.com", path, "GET", 200, None, None, "direct", None, None, None,
                 None, None, "desktop", False, "undecided")._replace(**changes)  # fmt: skip


def _buffered_is(recorder: Recorder, count: int) -> bool:
    return recorder.stats.buffered == count


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- status values that are not a plain int -----------------------------------------------


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        (http.HTTPStatus.NOT_FOUND, 404),
        (http.HTTPStatus.PERMANENT_REDIRECT, 308),
        (True, None),  # a bool is not a status
        ("200", None),
        (-1, None),
        (2**31, None),
    ],
)
def test_status_values_are_kept_as_plain_ints_or_dropped_alone(
    recorder: Recorder, status: Any, kept: int | None
) -> None:
    recorder.add(capture("/odd", status=status))
    recorder.add(capture("/fine"))
    rows = spooled(recorder)
    expected = ([("/odd", kept)] if kept is not None else []) + [("/fine", 200)]
    assert [(row["path"], row["status"]) for row in rows] == expected
    assert all(type(row["status"]) is int for row in rows)
    assert recorder.stats.errors == (0 if kept is not None else 1)


# --- one bad Event added as it is (a backfill) must not take the batch down ---------------


@pytest.mark.parametrize(
    "bad",
    [
        event("/bad", status="OK"),  # Arrow cannot convert it: the batch's conversion raised
        # A null in a required column: the write raised.
        event()._replace(path=None),  # type: ignore[arg-type]
        event("/bad", ts=None),
        event("/bad", device=None, is_bot=None),
    ],
)
def test_a_bad_event_drops_alone(recorder: Recorder, bad: Event) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/capture"))
    recorder.add(event("/event"))
    recorder.add(bad)
    recorder.add(event("/after"))
    written = recorder.flush()
    rows = spooled(recorder)
    assert written == 4
    assert sorted(row["path"] for row in rows) == [
        "/after",
        "/capture",
        "/converted-earlier",
        "/event",
    ]
    stats = recorder.stats
    assert (stats.flushed, stats.errors, stats.buffered) == (4, 1, 0)


# --- a string Arrow cannot store (a lone surrogate) must drop alone, not the batch --------


@pytest.mark.parametrize(
    ("odd", "kept"),
    [
        # scope["path"] as a decoder with errors="surrogateescape" leaves it (\xff in raw_path)
        ({"path": "/caf\udce9"}, "/caf%E9"),  # the byte kept as its escape
        ({"path": "/caf\ud800"}, "/caf\ufffd"),  # a surrogate no byte gives: U+FFFD
        ({"path": "/u/\udcff" + "a" * 30}, "/u/:redacted"),
        ({"method": "G\udcffT"}, None),
    ],
)
def test_a_surrogate_in_a_capture_drops_alone(
    recorder: Recorder, odd: dict[str, str], kept: str | None
) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture(**{"path": "/odd", **odd}))
    recorder.add(capture("/after"))
    recorder.flush()  # raised UnicodeEncodeError: the batch and earlier events were lost
    paths = [row["path"] for row in spooled(recorder)]
    expected = ["/converted-earlier", "/before", "/after"]
    if kept is not None:
        expected.insert(2, kept)
    assert paths == expected
    assert recorder.stats.errors == (0 if kept is not None else 1)
    assert recorder.stats.buffered == 0


# --- a conversion that raises must not take converted events with it ----------------------


class _NotAReferrer:
    """What a buggy parser might hand back: no `spam`, no `host`."""


def _buggy_parser(site: str, result: object) -> Callable[[bytes], Referrer]:
    real = referrer_parser(site)

    def parse(raw: bytes) -> Referrer:
        if POISON_HOST in raw:
            if isinstance(result, BaseException):
                raise result
            return result  # type: ignore[return-value]  # the bug being injected
        return real(raw)

    return parse


POISON_REFERER = b"https://" + POISON_HOST + b"/from?session=raw-secret-narwhal"


BUGS: list[Any] = [
    pytest.param(_NotAReferrer(), id="parser-returns-garbage"),
    pytest.param(("not", "a", "referrer"), id="parser-returns-a-tuple"),
    pytest.param(MemoryError(), id="parser-memoryerror"),
    pytest.param(RuntimeError(POISON_REFERER.decode()), id="parser-raises-quoting-input"),
]


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.parametrize("via", ["flush", "convert-then-flush"])
def test_a_conversion_bug_drops_only_the_bad_capture(
    recorder: Recorder, bug: object, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.referrer = _buggy_parser(SITE, bug)
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture("/bad", referer=POISON_REFERER))
    recorder.add(capture("/after"))
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        if via == "convert-then-flush":
            recorder.convert()
        assert spooled_paths(recorder) == ["/after", "/before", "/converted-earlier"]
    stats = recorder.stats
    assert (stats.flushed, stats.errors, stats.buffered, stats.recorded) == (3, 1, 0, 3)
    assert "poison" not in caplog.text
    assert "narwhal" not in caplog.text
    assert ADDRESS not in caplog.text


def test_a_broken_clock_value_drops_only_its_capture(recorder: Recorder) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture("/bad", ts=["not", "a", "time"]))  # unhashable: no per-value retry
    recorder.add(capture("/after"))
    assert spooled_paths(recorder) == ["/after", "/before", "/converted-earlier"]
    assert (recorder.stats.errors, recorder.stats.buffered) == (1, 0)


def test_the_flusher_thread_keeps_converted_events_and_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    recorder.referrer = _buggy_parser(SITE, _NotAReferrer())
    try:
        with caplog.at_level(logging.DEBUG, logger="analytics"):
            for round_ in range(3):  # three failing conversions: one log line, three errors
                recorder.add(capture(f"/good-{round_}"))
                recorder.add(capture(f"/bad-{round_}", referer=POISON_REFERER))
                wait_until(functools.partial(_buffered_is, recorder, round_ + 1))
            assert recorder._thread is not None
            assert recorder._thread.is_alive()
        assert recorder.stats.errors == 3
        assert spooled_paths(recorder) == ["/good-0", "/good-1", "/good-2"]
    finally:
        recorder.close()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1, caplog.text
    assert failures[0].exc_info is None  # a traceback would quote the exception's message
    assert "poison" not in caplog.text
    assert ADDRESS not in caplog.text


def test_batch_conversion_isolates_a_bad_capture_in_a_large_batch() -> None:
    parse = _buggy_parser(SITE, _NotAReferrer())
    batch = [capture(f"/p{i}") for i in range(1000)]
    batch[617] = capture("/bad", referer=POISON_REFERER)
    converted = batch_to_table(batch, site=SITE, parse_referrer=parse, visitor_id_of=_no_id)
    assert converted.failed == 1
    assert converted.failure == "AttributeError"
    assert converted.table.column("path").to_pylist() == [f"/p{i}" for i in range(1000) if i != 617]


def _no_id(day: date, peer: str | None, forwarded: bytes | None, agent: bytes) -> int | None:
    return None


def test_a_write_that_fails_with_a_non_disk_error_keeps_its_events(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import analytics.recorder as recorder_module
    from analytics.spool import write_segment as real_write

    calls = []

    def write_once_broken(spool_dir: Path, day: date, table: pa.Table) -> Path:
        calls.append(table.num_rows)
        if len(calls) == 1:  # an Arrow error quoting a value, as Arrow's messages do
            raise pa.ArrowInvalid(f"Could not convert {ADDRESS!r} with type str")
        return real_write(spool_dir, day, table)

    monkeypatch.setattr(recorder_module, "write_segment", write_once_broken)
    recorder.add(capture("/a"))
    recorder.add(capture("/b"))
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        assert recorder.flush() == 0  # raised ArrowInvalid: both events were lost
        assert (recorder.stats.errors, recorder.stats.buffered) == (1, 2)
        assert recorder.flush() == 2
    assert spooled_paths(recorder) == ["/a", "/b"]
    assert recorder.stats.flushed == 2
    assert "ArrowInvalid" in caplog.text
    assert ADDRESS not in caplog.text
