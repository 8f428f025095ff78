"""3. Spool write throughput of the background flusher, and 6. the buffer's memory at max_buffer.

The recorder's buffer is filled with realistic events (no flusher running), then `flush()`
writes them as sealed segments: events per second of that write. Meanwhile another thread
keeps adding events, as requests would: the longest single `add()` shows whether the request
path ever waits for a flush."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.event import Event
from analytics.recorder import Recorder
from bench.common import Figure, median

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _events(n: int) -> list[Event]:
    return [
        Event(
            ts=NOW + timedelta(microseconds=i),
            site="example.com",
            path=f"/blog/post-{i % 500}",
            method="GET",
            status=200,
            referrer_host="news.ycombinator.com" if i % 3 else None,
            referrer_domain="ycombinator.com" if i % 3 else None,
            referrer_medium="social" if i % 3 else "direct",
            referrer_source="Hacker News" if i % 3 else None,
            utm_source="newsletter" if i % 10 == 0 else None,
            utm_medium=None,
            utm_campaign=None,
            visitor_id=(i * 2654435761) % (2**63),
            device="desktop",
            is_bot=False,
            consent="undecided",
        )
        for i in range(n)
    ]


def run(events: int = 300_000, rounds: int = 5) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    batch = _events(events)
    try:
        rates, worst_adds = [], []
        for round_ in range(rounds):
            recorder = Recorder(
                spool_dir=work / f"r{round_}",
                site="example.com",
                clock=lambda: NOW,
                flush_interval=3600,
                max_buffer=events * 2,
            )
            for event in batch:
                recorder.add(event)
            stop = threading.Event()
            worst = [0.0]

            def requests(
                recorder: Recorder = recorder,
                worst: list[float] = worst,
                stop: threading.Event = stop,
            ) -> None:
                i = 0
                while not stop.is_set() and i < 50_000:
                    start = time.perf_counter()
                    recorder.add(batch[i % len(batch)])
                    worst[0] = max(worst[0], time.perf_counter() - start)
                    i += 1
                    if i % 100 == 0:
                        time.sleep(0)

            adder = threading.Thread(target=requests)
            adder.start()
            start = time.perf_counter()
            written = recorder.flush()
            elapsed = time.perf_counter() - start
            stop.set()
            adder.join()
            recorder.close()
            rates.append(written / elapsed)
            worst_adds.append(worst[0])

        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        held = _events(100_000)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        per_event = sum(s.size_diff for s in after.compare_to(before, "filename")) / len(held)
        del held
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rate = median(rates)
    return [
        Figure(
            "spool write throughput (flush)",
            f"flush() of {events} buffered events as Parquet, median of {rounds}",
            f"{rate / 1000:.0f}k events/s",
            ">= 300k events/s",
            rate >= 300_000,
        ),
        Figure(
            "request path during a flush",
            "longest Recorder.add() while flush() runs in another thread",
            f"{max(worst_adds) * 1e3:.2f} ms (GIL switch interval is 5 ms)",
            "never waits for the write",
            max(worst_adds) < 0.05,
        ),
        Figure(
            "recorder buffer memory",
            "tracemalloc of buffered Event tuples",
            f"{per_event:.0f} bytes/event; {per_event * 100_000 / 2**20:.0f} MiB at "
            "max_buffer=100k",
            "stated",
            None,
        ),
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure.row())
