"""3. Spool write throughput of the background flusher, and 6. the buffer's memory at max_buffer.

What the flusher really does with a request's capture: convert it (referrer, device, path,
UTM, visitor hash; a batch at a time) and write it as Parquet. Throughput is `flush()` of
buffered captures, while another thread keeps adding (the request path), which must never
wait for the write. Memory is stated for both forms the buffer holds: raw captures (at most
about a second) and converted events waiting for the next write.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from analytics import Recorder
from analytics.capture import Capture, CaptureRow
from bench.apps import USER_AGENT
from bench.common import Figure, median

SECOND = 8_000  # captures a one-worker app takes in about a second (bench_server)
VISITORS = 20_000  # distinct (address, browser) pairs: one hash per 15 events at 300k
REFERRERS = [b"https://news.ycombinator.com/item?id=1", b"https://www.google.com/", None]


def _fresh(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(bytearray(value))  # a new object, like a request's


def _captures(n: int, start: float) -> list[Capture]:
    """Captures like a busy site's: 500 pages, 3 referrers, 20 browsers, VISITORS visitors.

    Each holds its own header objects, as requests do (shared objects would flatter both
    the conversion and the memory figure)."""
    return [
        Capture(
            start + i * 1e-4,
            f"/blog/post-{i % 500}",
            "GET",
            200,
            b"utm_source=newsletter" if i % 10 == 0 else b"",
            _fresh(REFERRERS[i % 3]),
            (USER_AGENT + f" build/{i % 20}").encode(),
            f"10.0.{i % VISITORS // 256}.{i % VISITORS % 256}",
            None,
            "undecided",
            True,
        )
        for i in range(n)
    ]


def _as_captures(rows: tuple[tuple[Any, ...], ...]) -> list[CaptureRow]:
    """Captures made as the request path makes them: a new plain tuple per request (see
    analytics.middleware). `list(rows)` would hand over tuples the collector has already
    untracked, which a worker's fresh captures are not: that would flatter the figure."""
    return [(*row,) for row in rows]


def run(events: int = 300_000, rounds: int = 5) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    start_ts = time.time()
    # A server holds about a second of captures (SECOND); the benchmark has all 300k up
    # front. Held in a list, they would be read by every full collection the conversions
    # trigger until the collector untracks them, a cost of the benchmark's size, not the
    # recorder's. Kept as plain tuples in a tuple (both untracked by the collector) and
    # copied into new tuples a second's worth at a time, untimed, as requests make them, the
    # collector sees what a worker's does: the process's own heap, the second of captures
    # waiting (tracked until a collection looks at them, as a worker's are), and what the
    # conversion allocates. gc.freeze() instead would hide the process's heap and those
    # captures too.
    batch = tuple(tuple(capture) for capture in _captures(events, start_ts))
    gc.collect()  # untracks the rows,
    gc.collect()  # then the tuple of them: no full collection reads 300k rows
    try:
        rates, worst_adds, flush_times = [], [], []
        overlapping: list[int] = []
        for round_ in range(rounds):
            recorder = Recorder(
                spool_dir=work / f"r{round_}",
                site="example.com",
                flush_interval=3600,
                max_buffer=events * 2,
            )
            # The benchmark plays the flusher thread itself: a conversion per second's worth
            # of requests (SECOND captures), then one write, so that all of it is timed.
            recorder._start_flusher = lambda: None  # type: ignore[method-assign]
            elapsed = 0.0
            for offset in range(0, events, SECOND):
                for capture in _as_captures(batch[offset : offset + SECOND]):
                    recorder.add(capture)
                began = time.perf_counter()
                recorder.convert()
                elapsed += time.perf_counter() - began
            stop = threading.Event()
            flushing = threading.Event()
            # The longest add() that began while flush() ran, and how many began then: a
            # waiting add would last about as long as the flush, and none overlapping would
            # prove nothing.
            worst = [0.0]
            during = [0]
            # What requests add during the flush: a second's worth, added over and over.
            arriving = _as_captures(batch[:SECOND])

            def requests(
                recorder: Recorder = recorder,
                worst: list[float] = worst,
                during: list[int] = during,
                stop: threading.Event = stop,
                flushing: threading.Event = flushing,
                arriving: list[CaptureRow] = arriving,
            ) -> None:
                i = 0
                while not stop.is_set() and i < 50_000:
                    in_flush = flushing.is_set()
                    began = time.perf_counter()
                    recorder.add(arriving[i % SECOND])
                    took = time.perf_counter() - began
                    if in_flush:
                        worst[0] = max(worst[0], took)
                        during[0] += 1
                    i += 1
                    if i % 100 == 0:
                        time.sleep(0)

            adder = threading.Thread(target=requests)
            adder.start()
            flushing.set()
            began = time.perf_counter()
            written = recorder.flush()  # also converts what the adder added meanwhile
            flush_seconds = time.perf_counter() - began
            flushing.clear()
            elapsed += flush_seconds
            stop.set()
            adder.join()
            recorder.close()
            worst_adds.append(worst[0])
            flush_times.append(flush_seconds)
            overlapping.append(during[0])
            rates.append(written / elapsed)

        held_n = 100_000
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        held = _captures(held_n, start_ts)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        per_capture = sum(s.size_diff for s in after.compare_to(before, "filename")) / held_n
        recorder = Recorder(work / "memory", "example.com", flush_interval=3600, max_buffer=held_n)
        # No flusher thread: past the early-flush mark it would write what is to be measured.
        recorder._start_flusher = lambda: None  # type: ignore[method-assign]
        for capture in held:
            recorder.add(capture)
        del held
        recorder.convert()
        converted = sum(table.get_total_buffer_size() for table in recorder._converted)
        per_event = converted / max(1, recorder.stats.buffered)
        recorder._converted.clear()
        recorder._converted_rows = 0
        recorder.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = median(rates)
    return [
        Figure(
            "spool write throughput (flush)",
            f"{events} captures ({VISITORS} visitors), converted {SECOND} at a time as the "
            f"flusher does each second, then flush() to Parquet; median of {rounds}",
            f"{rate / 1000:.0f}k events/s",
            ">= 300k events/s",
            rate >= 300_000,
        ),
        Figure(
            "request path during a flush",
            "longest Recorder.add() begun while flush() ran in another thread, "
            f"against that flush's duration ({min(overlapping)}+ adds overlapped each)",
            f"{max(worst_adds) * 1e3:.2f} ms, flush {min(flush_times) * 1e3:.0f} ms "
            "(GIL switch interval is 5 ms)",
            "never waits for the write",
            min(overlapping) > 0 and max(worst_adds) < min(flush_times) / 2,
        ),
        Figure(
            "recorder buffer memory",
            "tracemalloc of raw captures (held <= ~1 s); Arrow bytes of converted events",
            f"captures {per_capture:.0f} B, converted events {per_event:.0f} B; at "
            f"max_buffer=100k: {per_capture * 1e5 / 2**20:.0f} MiB at most, "
            f"{per_event * 1e5 / 2**20:.0f} MiB once converted",
            "stated",
            None,
        ),
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure.row())
