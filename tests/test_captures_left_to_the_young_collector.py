"""Captures as the garbage collector sees them, while they wait and while they convert.

CPython's collector untracks an exact tuple of numbers, text, bytes and None at its first
collection, never a tuple subclass such as the `Capture` NamedTuple: a second of those waiting
in the buffer is promoted to the oldest generation, and that promotion brings on a full
collection (a read of the whole heap) every few seconds of a busy worker. So the recorder
takes a capture as a plain tuple too (`CaptureRow`), converts it like a `Capture`, and the
conversion itself makes no tracked object per capture that could be promoted meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.capture import Capture, Converted, convert_captures, is_capture
from analytics.referrers import referrer_parser
from tests.recording_support import SITE, page_view

CHROME = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
BACKFILLED = page_view(datetime(2025, 11, 24, 12, tzinfo=UTC), "/backfilled")
STARTED = 1_764_000_000.0  # 2025-11-24, Unix seconds as the request path's clock gives them


def _capture(i: int) -> Capture:
    return Capture(
        STARTED + i * 1e-3,
        f"/blog/post-{i % 50}",
        "GET",
        200,
        b"utm_source=news" if i % 7 == 0 else b"",
        b"https://news.ycombinator.com/item?id=1" if i % 3 == 0 else None,
        CHROME + f" build/{i % 5}".encode(),
        f"10.0.{i // 256 % 256}.{i % 256}",
        None,
        "undecided",
        i % 4 != 0,
        None,
    )


def _plain(i: int) -> tuple[object, ...]:
    return (*_capture(i),)  # a new exact tuple, as a request makes one


def _recorder(spool: Path) -> Recorder:
    recorder = Recorder(spool, SITE, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]  # convert by hand
    return recorder


def test_plain_tuple_captures_become_the_same_events_as_captures(tmp_path: Path) -> None:
    as_captures = _recorder(tmp_path / "a")
    as_tuples = _recorder(tmp_path / "b")
    as_tuples.salts = as_captures.salts  # one salt folder: the same visitor ids
    as_tuples._hasher = as_captures._hasher
    for i in range(300):
        as_captures.add(_capture(i))
        as_tuples.add(_plain(i))  # type: ignore[arg-type]  # not a CaptureRow to mypy
    as_captures.convert()
    as_tuples.convert()
    expected = as_captures.pending_events()
    assert len(expected) == 300
    assert as_tuples.pending_events() == expected
    assert as_tuples.stats.errors == 0
    as_captures.close()
    as_tuples.close()


def test_captures_and_events_mixed_keep_their_order(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path / "spool")
    event = BACKFILLED
    recorder.add(_plain(1))  # type: ignore[arg-type]
    recorder.add(event)
    recorder.add(_capture(2))
    recorder.add(_plain(3))  # type: ignore[arg-type]
    recorder.convert()
    paths = [pending.path for pending in recorder.pending_events()]
    assert paths == ["/blog/post-1", "/backfilled", "/blog/post-2", "/blog/post-3"]
    assert recorder.stats.errors == 0
    recorder.close()


def test_a_plain_tuple_of_another_length_is_dropped_alone(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path / "spool")
    recorder.add(_plain(1))  # type: ignore[arg-type]
    recorder.add(_plain(2)[:11])  # type: ignore[arg-type]
    recorder.add((*_plain(3), b"extra"))  # type: ignore[arg-type]
    recorder.add(_plain(4))  # type: ignore[arg-type]
    recorder.convert()
    assert [event.path for event in recorder.pending_events()] == ["/blog/post-1", "/blog/post-4"]
    assert recorder.stats.errors == 2
    recorder.close()


def test_only_events_are_not_captures() -> None:
    assert is_capture(_capture(1))
    assert is_capture(_plain(1))
    assert not is_capture(BACKFILLED)
    assert not is_capture([*_plain(1)])


def test_plain_captures_waiting_in_the_buffer_are_untracked(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path / "spool")
    for i in range(100):
        recorder.add(_plain(i))  # type: ignore[arg-type]
    gc.collect()
    waiting = recorder._buffer
    assert len(waiting) == 100
    assert not any(gc.is_tracked(capture) for capture in waiting)
    recorder.close()


@pytest.fixture
def every_survivor_promoted() -> Iterator[None]:
    """Collections tuned so that whatever outlives two young collections reaches the oldest
    generation (and no full collection empties it meanwhile)."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(200, 1, 1_000_000_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()


def _convert(captures: list[tuple[object, ...]]) -> Converted:
    return convert_captures(
        captures,  # type: ignore[arg-type]  # plain tuples, as a request makes them
        site=SITE,
        parse_referrer=referrer_parser(SITE),
        visitor_id_of=lambda day, peer, forwarded, agent: hash((day, peer, agent)),
    )


def _most_promoted(captures: list[tuple[object, ...]]) -> int:
    """The most objects a conversion of `captures` had promoted to the oldest generation at
    the end of any middle-generation collection."""
    gc.collect()
    oldest = {id(thing) for thing in gc.get_objects(generation=2)}
    promoted_most = [0]

    def count_promoted(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 1:
            promoted = sum(1 for thing in gc.get_objects(generation=2) if id(thing) not in oldest)
            promoted_most[0] = max(promoted_most[0], promoted)

    gc.callbacks.append(count_promoted)
    try:
        converted = _convert(captures)
    finally:
        gc.callbacks.remove(count_promoted)
    assert converted.table.num_rows == len(captures)
    return promoted_most[0]


@pytest.mark.usefixtures("every_survivor_promoted")
def test_a_conversion_promotes_no_object_per_capture() -> None:
    # A first conversion in the process imports and builds what every later one reuses
    # (Arrow's compute kernels, the Public Suffix List, parsers' caches): tens of thousands of
    # long-lived objects, promoted once. Counted, they made the figure depend on whether
    # another test had converted first (21 790 alone, about 490 after the others).
    _convert([_plain(i) for i in range(300)])
    batch = _most_promoted([_plain(i) for i in range(8_000)])
    twice = _most_promoted([_plain(i) for i in range(16_000)])
    # What may be promoted is the conversion's own (lists, Arrow wrappers) and one slice of
    # the batch being split (at most 256 captures' iterators and tuples), a few hundred,
    # whatever the batch's size (other threads of a test process may add some); one object
    # per capture (zip(*captures) made an iterator for each) would be thousands, and twice as
    # many for a batch twice as long.
    assert batch < 1_500, batch
    assert twice < batch + 300, (batch, twice)


def test_the_request_path_appends_captures_the_collector_can_untrack(tmp_path: Path) -> None:
    """TrafficMiddleware appends plain tuples (a `Capture` would be promoted while it waits),
    and they are converted into the same events a `Capture` gives."""
    import asyncio

    from analytics import TrafficMiddleware
    from tests.recording_support import html_app, raw_scope, run_request, spooled

    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    app = TrafficMiddleware(html_app, recorder=recorder)
    for i in range(3):
        asyncio.run(run_request(app, raw_scope(f"/p{i}", ("203.0.113.9", 5000))))
    waiting = list(recorder._buffer)
    gc.collect()
    assert len(waiting) == 3
    assert all(type(capture) is tuple for capture in waiting)
    assert not any(gc.is_tracked(capture) for capture in waiting)
    recorder.convert()
    recorder.flush()
    recorder.close()
    paths = sorted(row["path"] for row in spooled(recorder))
    assert paths == ["/p0", "/p1", "/p2"]
