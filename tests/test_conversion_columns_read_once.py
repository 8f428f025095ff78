"""The columns a batch of captures is split into, as the garbage collector sees them.

The flusher splits a batch into one sequence per field of `Capture` before converting it,
and those sequences live while the batch converts, during which the conversion's own
allocations bring on young collections. A list is read by every one of them (twelve lists
as long as the batch: 0.7 k instructions per capture in the instruction benchmark); a tuple
of text, bytes, numbers and None is untracked by the first collection that sees it. And the
split (zip, a slice of the batch at a time) must still drop a capture of another length
alone, wherever it sits in a batch of several slices.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Recorder
from analytics.capture import convert_captures
from analytics.referrers import referrer_parser
from tests.recording_support import SITE
from tests.test_captures_left_to_the_young_collector import _plain

BATCH = 3_000  # a length nothing else in the conversion has


@pytest.fixture
def frequent_young_collections() -> Iterator[None]:
    """Many young collections while a batch converts, and no full one."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(50, 5, 1_000_000_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()


@pytest.mark.usefixtures("frequent_young_collections")
def test_a_batchs_columns_are_read_by_one_collection_at_most() -> None:
    captures = [_plain(i) for i in range(BATCH)]
    gc.collect()  # the captures themselves untracked, as a worker's are after a second
    sightings: Counter[int] = Counter()
    kept: list[object] = []  # ids stay theirs while the test runs
    collections = [0]

    def count_columns(phase: str, info: dict[str, int]) -> None:
        if phase != "start":
            return
        collections[0] += 1
        for generation in range(info["generation"] + 1):
            for thing in gc.get_objects(generation=generation):
                batch_long = type(thing) in (list, tuple) and len(thing) == BATCH
                if batch_long and thing is not captures:
                    sightings[id(thing)] += 1
                    kept.append(thing)

    gc.callbacks.append(count_columns)
    try:
        converted = convert_captures(
            captures,  # type: ignore[arg-type]  # plain tuples, as a request makes them
            site=SITE,
            parse_referrer=referrer_parser(SITE),
            visitor_id_of=lambda day, peer, forwarded, agent: hash((day, peer, agent)),
        )
    finally:
        gc.callbacks.remove(count_columns)
    assert converted.table.num_rows == BATCH
    assert collections[0] >= 5, collections[0]  # the conversion did meet collections
    read_again = {key: count for key, count in sightings.items() if count > 1}
    most = max(read_again.values(), default=0)
    assert not read_again, f"{len(read_again)} batch-long containers read up to {most} times"


@pytest.mark.parametrize("length", [11, 13])
def test_a_capture_of_another_length_in_a_later_slice_is_dropped_alone(
    tmp_path: Path, length: int
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]  # convert by hand
    odd = {300, 599}  # in the second and the third slice of 256
    for i in range(600):
        capture = _plain(i)
        if i in odd:
            capture = capture[:11] if length == 11 else (*capture, b"extra")
        recorder.add(capture)  # type: ignore[arg-type]
    recorder.convert()
    paths = [event.path for event in recorder.pending_events()]
    assert paths == [f"/blog/post-{i % 50}" for i in range(600) if i not in odd]
    assert recorder.stats.errors == 2
    recorder.close()


def test_a_whole_slice_of_another_length_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    for i in range(600):
        capture = _plain(i)
        recorder.add(capture[:11] if 256 <= i < 512 else capture)  # type: ignore[arg-type]
    recorder.convert()
    kept = [event.path for event in recorder.pending_events()]
    assert kept == [f"/blog/post-{i % 50}" for i in range(600) if not 256 <= i < 512]
    assert recorder.stats.errors == 256
    recorder.close()
